"""Qt-free services: storage, the LLM client, the session engine, secrets and crypto."""
