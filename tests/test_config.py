"""One configuration object: embedded defaults, a TOML file, CUSTOS_* environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from custos.config import load_settings
from custos.errors import CustosError


def test_embedded_defaults_are_sqlite_and_a_local_folder(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.db_url == f"sqlite:///{(tmp_path / 'custos.db').resolve()}"
    assert s.footage_root == tmp_path / "footage"
    assert s.recorder.segment_s == 60 and s.recorder.fragment_ms == 1000 and s.recorder.backend == "batch"


def test_toml_file_then_environment_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "custos.toml"
    f.write_text('data_dir = "/srv/custos"\n[recorder]\nsegment_s = 30\nbackend = "pyav"\n')
    assert load_settings(f).recorder.segment_s == 30
    monkeypatch.setenv("CUSTOS_RECORDER__SEGMENT_S", "10")
    s = load_settings(f)
    assert s.recorder.segment_s == 10 and s.recorder.backend == "pyav" and s.data_dir == Path("/srv/custos")
    assert load_settings(f, data_dir=tmp_path).data_dir == tmp_path


def test_unknown_keys_and_bad_values_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "custos.toml"
    f.write_text("[recorder]\nsegmnt_s = 30\n")
    with pytest.raises(ValidationError, match="segmnt_s"):
        load_settings(f)
    f.write_text("[recorder]\nfragment_ms = 5000\n")
    with pytest.raises(ValidationError, match="fragment_ms"):
        load_settings(f)
    f.write_text("[recorder]\nreconnect_min_s = 10\nreconnect_max_s = 1\n")
    with pytest.raises(ValidationError, match="reconnect_max_s"):
        load_settings(f)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CustosError, match="nope.toml does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    with pytest.raises(ValidationError):
        s.data_dir = Path("/elsewhere")  # type: ignore[misc]
