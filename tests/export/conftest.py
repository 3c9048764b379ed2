import pytest

from tests.export.helpers import exported_int8, exported_tiny


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    return exported_tiny(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_lip_sync_export(tmp_path_factory):
    return exported_tiny(tmp_path_factory, options=True)


@pytest.fixture(params=["tiny", "tiny_lip_sync"])
def each_export(request):
    """Both exports in turn: the paper's layers, and the lip-sync options of the shipped model."""
    fixture = "tiny_export" if request.param == "tiny" else "tiny_lip_sync_export"
    return request.getfixturevalue(fixture)


@pytest.fixture(scope="session")
def int8_export(tmp_path_factory):
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.skip(f"real test media not found at {SHARED_DATA} (the int8 model calibrates on it)")
    return exported_int8(tmp_path_factory, SHARED_DATA / "clips")
