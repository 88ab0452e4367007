"""The test suite: pytest collects it; shared names are in tests.helpers, fixtures in conftest."""
