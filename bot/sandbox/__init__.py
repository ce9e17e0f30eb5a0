"""Loopback fakes of Discord, GitHub and the LLM API, shared by tests and the local demo."""
