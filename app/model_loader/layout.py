"""On-disk layout of the models directory: the one source of truth for paths.

The stack code (vLLM Deployment `--model`, DaemonSet and init-container args) imports
`model_dir_name` and `served_model_path`; the loader uses the rest. Pure functions over strings and
paths, no I/O and no third-party imports, so the Pulumi program can import it cheaply.

    <models>/<dir_name>                     symlink, RELATIVE target ".store/<dir_name>/<commit>"
    <models>/.store/<dir_name>/<commit>/    complete, verified trees (one per revision)
        .model-loader/manifest.json         completion marker + manifest (written before the rename)
    <models>/.tmp/<dir_name>-<commit>-<pid>/   downloads in progress (same filesystem, so rename is atomic)
    <models>/.store/<dir_name>/refs/<rev>   branch/tag name -> commit, as last resolved on this node
    <models>/.locks/<dir_name>.lock         one filelock per model
    <models>/.trash/                        trees being deleted (renamed here first, then removed)
    <models>/.hf-home/                      HF_HOME of huggingface_hub / hf-xet (not the container's root fs)

The served path is always either absent or a symlink to a complete tree: vLLM started with
`--model /models/<dir_name>` never sees a half-written directory, and a revision switch is one
rename(2) of a new symlink over the old one. The target is relative so the link resolves wherever the
models directory is mounted (host `/mnt/k8s-disks/0/models`, container `/models`).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

# Mirrors huggingface_hub.utils.validate_repo_id (and the Hub's own rules): "name" or "namespace/name",
# ASCII letters, digits, "-", "_", ".", each part 1..96 chars, starting and ending with a letter, digit or
# "_". Kept here (not imported) so the Pulumi program does not import huggingface_hub.
_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_])?"
_REPO_ID_RE = re.compile(rf"(?:{_PART}/)?{_PART}")
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")

STORE_DIRNAME = ".store"
TMP_DIRNAME = ".tmp"
LOCKS_DIRNAME = ".locks"
TRASH_DIRNAME = ".trash"
# HF_HOME for huggingface_hub/hf-xet bookkeeping, on the models disk rather than the container's root fs.
HF_HOME_DIRNAME = ".hf-home"
REFS_DIRNAME = "refs"
PLAN_FILENAME = "plan.json"
MARKER_DIRNAME = ".model-loader"
MARKER_FILENAME = "manifest.json"
# Relative path of the completion marker inside a revision tree.
MARKER_RELPATH = f"{MARKER_DIRNAME}/{MARKER_FILENAME}"


def validate_repo_id(repo_id: str) -> str:
    """Return `repo_id` unchanged, or raise ValueError saying what is wrong with it."""
    if not isinstance(repo_id, str) or not repo_id:
        raise ValueError(f"invalid Hugging Face repo id {repo_id!r}: it is empty")
    if repo_id.count("/") > 1:
        raise ValueError(
            f"invalid Hugging Face repo id {repo_id!r}: expected 'name' or 'namespace/name' "
            "(a repo type prefix such as 'models/' is not part of the id)"
        )
    if not _REPO_ID_RE.fullmatch(repo_id):
        raise ValueError(
            f"invalid Hugging Face repo id {repo_id!r}: each part must be 1-96 characters of letters, "
            "digits, '-', '_' or '.', and must not start or end with '-' or '.'"
        )
    if "--" in repo_id or ".." in repo_id:
        raise ValueError(f"invalid Hugging Face repo id {repo_id!r}: '--' and '..' are not allowed")
    if repo_id.endswith(".git"):
        raise ValueError(f"invalid Hugging Face repo id {repo_id!r}: it must not end with '.git'")
    return repo_id


def model_dir_name(repo_id: str) -> str:
    """Directory name of a model under the models root: the seed's naming, '/' replaced by '_'.

    `Qwen/Qwen2.5-7B-Instruct-AWQ` -> `Qwen_Qwen2.5-7B-Instruct-AWQ`. Never starts with '.', so it
    cannot collide with the loader's own `.store`, `.tmp`, `.locks` directories.
    """
    return validate_repo_id(repo_id).replace("/", "_")


def served_model_path(models_root: str, repo_id: str) -> str:
    """The path vLLM is given as `--model`: `<models_root>/<dir_name>` (posix string).

    It is a symlink with a relative target into `.store/`, see the module docstring.
    """
    if not models_root:
        raise ValueError("models_root must not be empty")
    return posixpath.join(models_root, model_dir_name(repo_id))


def validate_commit(commit: str) -> str:
    """Return a full 40-hex commit sha unchanged, or raise ValueError."""
    if not isinstance(commit, str) or not _COMMIT_RE.fullmatch(commit):
        raise ValueError(f"not a full commit sha (40 lowercase hex characters): {commit!r}")
    return commit


def store_root(models_root: Path) -> Path:
    return Path(models_root) / STORE_DIRNAME


def model_store_dir(models_root: Path, repo_id: str) -> Path:
    """Directory holding every complete revision of one model."""
    return store_root(models_root) / model_dir_name(repo_id)


def revision_dir(models_root: Path, repo_id: str, commit: str) -> Path:
    return model_store_dir(models_root, repo_id) / validate_commit(commit)


def served_link(models_root: Path, repo_id: str) -> Path:
    return Path(served_model_path(str(models_root), repo_id))


def served_link_target(repo_id: str, commit: str) -> str:
    """Relative symlink target of the served path for one revision (relative to the models root)."""
    return posixpath.join(STORE_DIRNAME, model_dir_name(repo_id), validate_commit(commit))


def marker_path(tree: Path) -> Path:
    return Path(tree) / MARKER_DIRNAME / MARKER_FILENAME


def tmp_root(models_root: Path) -> Path:
    return Path(models_root) / TMP_DIRNAME


def tmp_download_dir(models_root: Path, repo_id: str, commit: str, pid: int) -> Path:
    """Temporary tree for one download: inside the models root, so the final rename is atomic."""
    return tmp_root(models_root) / f"{model_dir_name(repo_id)}-{validate_commit(commit)}-{pid}"


def tmp_dir_owner(name: str) -> tuple[str, str, int] | None:
    """Parse a temp dir name back into (dir_name, commit, pid); None if it is not one of ours."""
    match = re.fullmatch(r"(.+)-([0-9a-f]{40})-(\d+)", name)
    if match is None:
        return None
    return match.group(1), match.group(2), int(match.group(3))


def locks_root(models_root: Path) -> Path:
    return Path(models_root) / LOCKS_DIRNAME


def lock_path(models_root: Path, repo_id: str) -> Path:
    """One lock per model (all revisions): downloads, switches and cleanup of a model are serialised."""
    return locks_root(models_root) / f"{model_dir_name(repo_id)}.lock"


def trash_root(models_root: Path) -> Path:
    return Path(models_root) / TRASH_DIRNAME


def hf_home(models_root: Path) -> Path:
    return Path(models_root) / HF_HOME_DIRNAME


def refs_dir(models_root: Path, repo_id: str) -> Path:
    return model_store_dir(models_root, repo_id) / REFS_DIRNAME


def incoming_dir(tree: Path) -> Path:
    """Files of a temporary tree still arriving from the S3 mirror (moved to their paths when whole)."""
    return Path(tree) / MARKER_DIRNAME / "incoming"


def plan_path(tree: Path) -> Path:
    """Written into a temporary tree when a download starts: expected files and total size (progress)."""
    return Path(tree) / MARKER_DIRNAME / PLAN_FILENAME


def is_commit(value: str | None) -> bool:
    return value is not None and _COMMIT_RE.fullmatch(value) is not None
