"""Shared test settings: deterministic, single-threaded torch so results do not depend on the machine."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)
