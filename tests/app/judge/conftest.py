"""Fixtures of the judge tests: one fake OpenAI-compatible server per session, reset for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.judge.client import JudgeSettings
from tests.support.fake_openai import FakeOpenAI


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()


@pytest.fixture
def settings(fake_openai: FakeOpenAI) -> JudgeSettings:
    """Client settings against the fake server, with backoff small enough for tests."""
    return JudgeSettings(
        base_url=fake_openai.base_url,
        model="fake-judge",
        timeout_s=2.0,
        max_retries=3,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        retry_after_max_s=1.0,
        concurrency=8,
    )
