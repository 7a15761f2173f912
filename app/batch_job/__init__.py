"""The daily batch judge: Vertex AI Gemini batch prediction over a day of interactions, or the same day
through a self-hosted OpenAI-compatible server (`python -m app.batch_job submit|status|collect`)."""
