"""`aifinops policy new`: the packs it offers are the library's, and bad arguments are refused before writing."""
from aifinops.cli import main
from aifinops.policies.packs import PACKS
from aifinops.policy_command import PACK_FILES, PACK_KINDS


def test_the_kinds_offered_are_the_packs_the_library_serves():
    assert set(PACK_KINDS) == set(PACKS)


def test_a_bad_name_or_a_used_directory_is_refused_and_nothing_written(tmp_path, capsys):
    assert main(["policy", "new", str(tmp_path / "pack"), "--name", "bad name!"]) == 2
    assert "--name: expected letters, digits, '.', '_' or '-' (at most 100), got 'bad name!'" in capsys.readouterr().err
    assert not (tmp_path / "pack").exists()
    assert main(["policy", "new", str(tmp_path / "pack")]) == 0
    assert sorted(p.name for p in (tmp_path / "pack").iterdir()) == sorted(PACK_FILES)
    assert main(["policy", "new", str(tmp_path / "pack")]) == 2
    assert "already has" in capsys.readouterr().err
