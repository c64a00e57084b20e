"""Shared helpers for the lab parsing tests: where the sample and fixture messages live."""
from pathlib import Path

import pytest

# The team's shared HL7 samples (shared/samples/hl7), copied into the repo so a clone anywhere tests them.
SHARED_SAMPLES = Path(__file__).parent / "samples"
MESSAGES = Path(__file__).parent / "messages"


@pytest.fixture
def sample():
    """Read a shared sample message (bytes) by file name."""
    return lambda name: (SHARED_SAMPLES / name).read_bytes()


@pytest.fixture
def fixture_message():
    """Read one of this folder's messy fixture messages (bytes) by file name."""
    return lambda name: (MESSAGES / name).read_bytes()
