"""The zoo on the Hugging Face Hub: ``push`` uploads a verified zoo folder (its index and the files it lists, nothing
else); ``pull`` brings a hub repository's zoo into the cache, or takes a local folder as it is. Both end in the same
checks as a local zoo (``modxfer.store.zoo.read_index``, ``verify``), so a downloaded zoo is trusted no more than a local one.
"""
from __future__ import annotations

import re
from pathlib import Path

from .cards import show
from ..errors import ConfigError, DataError, ModxferError
from .entries import INDEX, ZOO_IS_A_FOLDER, default_zoo, read_index, verify

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def push(repo_id: str, zoo=None, *, token: str | None = None, private: bool = False,
         message: str = "Publish adapters with modxfer") -> str:
    """Upload the zoo folder to a Hugging Face Hub model repository (created if needed); returns its URL."""
    from huggingface_hub import HfApi

    root = Path(zoo) if zoo is not None else default_zoo()
    if not (root / INDEX).is_file():
        raise DataError(f"{root} is not an adapter zoo (no {INDEX})", "publish into it first, or pass --zoo DIR")
    if not _HUB_ID.match(repo_id):
        raise ConfigError(f"{show(repo_id)} is not a hub repository id", "write user/name")
    entries = read_index(root)
    for e in entries:
        verify(e, root, entries)
    # Only the index and the files it lists: never whatever else sits in the folder.
    patterns = [INDEX] + [f"{e.path}/{rel}" for e in entries for rel in e.files]
    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(root), repo_type="model", commit_message=message,
                          allow_patterns=patterns)
    except Exception as e:  # not logged in, no network, no rights: one message, no traceback
        raise ModxferError(f"could not push the zoo to {repo_id!r}: {type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}",
                           "log in with `huggingface-cli login` (or pass a token) and check the repository id") from None
    return f"https://huggingface.co/{repo_id}"


def pull(source: str, *, revision: str | None = None, token: str | None = None) -> Path:
    """A zoo folder from ``source``: a local folder as it is, else a hub repository id downloaded to the cache."""
    from ..io import cache_dir

    if Path(source).expanduser().is_dir():
        root = Path(source).expanduser()
    elif Path(source).expanduser().exists():  # a file is never a hub id, however its name looks
        raise ConfigError(f"{source} is a file, not an adapter zoo", ZOO_IS_A_FOLDER)
    else:
        if not _HUB_ID.match(source) or ".." in source:
            raise ConfigError(f"{show(source)} is neither a folder nor a hub repository id",
                              "pass a local zoo folder or an id such as user/modxfer-adapters")
        if revision is not None and not re.match(r"^[\w.-]{1,100}$", revision):
            raise ConfigError(f"revision {show(revision)} is not a branch, tag or commit", "pass e.g. main or a sha")
        root = _download(source, revision, token, cache_dir() / "zoo" / source.replace("/", "--"))
    read_index(root)
    return root


def _download(source: str, revision: str | None, token: str | None, local_dir: Path) -> Path:
    """A hub zoo, limits before work: its index first (read with the local zoo's size cap and checks), then the
    sizes the hub reports for the files it lists, each entry's against its ``size_bytes``, and only then those files
    and nothing else. A hub repository is a stranger's folder: it is never downloaded whole."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    from ..io import mark

    def hub(what, call):
        try:
            return call()
        except ModxferError:
            raise
        except Exception as e:  # offline, unknown repo, no access: all say the same to the user
            raise ModxferError(f"could not download the zoo {source!r} from the Hugging Face Hub ({what}): "
                               f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                               "check the repository id and your connection, or pass a local zoo folder") from None

    hub("its index", lambda: hf_hub_download(source, INDEX, revision=revision, token=token,
                                                          local_dir=local_dir))
    entries = read_index(local_dir)
    listed = {f"{e.path}/{rel}": e for e in entries for rel in e.files}
    info = hub("the sizes of its files", lambda: HfApi(token=token).model_info(source, revision=revision,
                                                                               files_metadata=True))
    sizes = {f.rfilename: f.size for f in (info.siblings or [])}
    for e in entries:
        have = {rel: sizes.get(f"{e.path}/{rel}") for rel in e.files}
        absent = [rel for rel, n in have.items() if n is None]
        if absent:
            raise DataError(f"hub zoo {source}: entry {e.name} lists {', '.join(absent[:3])}, which the repository "
                            "does not hold", "pull another revision, or ask its publisher to push the zoo again")
        if sum(have.values()) != e.size_bytes:
            raise DataError(f"hub zoo {source}: entry {e.name}'s files hold {sum(have.values()):,} bytes on the hub, "
                            f"but its index says size_bytes = {e.size_bytes:,}", "the zoo is damaged or was changed; "
                            "ask its publisher to push it again")
    root = Path(hub("the files its index lists", lambda: snapshot_download(repo_id=source, revision=revision, token=token,
                                                          local_dir=local_dir,
                                                          allow_patterns=[INDEX, *sorted(listed)])))
    mark(root)  # `cache clear zoo` deletes only entries their writer marked
    return root
