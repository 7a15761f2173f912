"""The models-directory naming shared with the stack (vLLM `--model` path)."""

from pathlib import Path

import pytest

from app.model_loader import layout


def test_dir_name_keeps_the_seed_naming():
    assert layout.model_dir_name("Qwen/Qwen2.5-7B-Instruct-AWQ") == "Qwen_Qwen2.5-7B-Instruct-AWQ"


def test_dir_name_of_a_repo_without_namespace_is_the_name():
    assert layout.model_dir_name("gpt2") == "gpt2"


def test_served_path_is_under_the_models_root():
    assert (
        layout.served_model_path("/models", "Qwen/Qwen2.5-7B-Instruct-AWQ")
        == "/models/Qwen_Qwen2.5-7B-Instruct-AWQ"
    )
    assert layout.served_model_path("/models/", "org/m") == "/models/org_m"


@pytest.mark.parametrize(
    ("repo_id", "reason"),
    [
        ("", "empty"),
        ("models/org/name", "namespace/name"),
        ("org/../etc", "namespace/name"),
        ("../x", "must not start or end"),
        ("org/.hidden", "must not start or end"),
        ("org/name-", "must not start or end"),
        ("org/na me", "letters, digits"),
        ("org/näme", "letters, digits"),
        ("org/a--b", "'--'"),
        ("org/a..b", "'..'"),
        ("org/name.git", ".git"),
        ("org/" + "a" * 97, "1-96"),
    ],
)
def test_invalid_repo_ids_are_rejected_with_the_reason(repo_id, reason):
    with pytest.raises(ValueError, match="invalid Hugging Face repo id") as info:
        layout.model_dir_name(repo_id)
    assert reason in str(info.value)


def test_served_symlink_target_is_relative_and_inside_the_store():
    target = layout.served_link_target("org/m", "a" * 40)
    assert target == ".store/org_m/" + "a" * 40
    assert not target.startswith("/")


def test_loader_dirs_never_collide_with_a_model_dir():
    # Every valid dir name starts with a letter, digit or "_": never one of the loader's dot-dirs.
    for name in (layout.STORE_DIRNAME, layout.TMP_DIRNAME, layout.LOCKS_DIRNAME, layout.TRASH_DIRNAME):
        with pytest.raises(ValueError, match="must not start or end"):
            layout.model_dir_name(name)


def test_temp_dir_names_parse_back_to_their_owner():
    tmp = layout.tmp_download_dir(Path("/m"), "org/m", "b" * 40, 4242)
    assert tmp.parent == Path("/m/.tmp")
    assert layout.tmp_dir_owner(tmp.name) == ("org_m", "b" * 40, 4242)
    assert layout.tmp_dir_owner("something-else") is None


def test_revision_dirs_require_a_full_commit_sha():
    with pytest.raises(ValueError, match="full commit sha"):
        layout.revision_dir(Path("/m"), "org/m", "main")
