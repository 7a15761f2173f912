"""The judge: GitHub Models prompt files, typed answers, a retrying OpenAI-compatible client and a CLI.

Shared by the online path (self-hosted vLLM) and the batch path (Vertex AI): both render the same prompt
files and validate answers with the same typed models.
"""
