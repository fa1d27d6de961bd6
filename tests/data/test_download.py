"""`symml data download`: fetching MNIST (and MNIST-rot) with checksum checks, through the CLI.

No test touches the network: the mirrors are folders served through ``file://`` URLs, holding
copies of the real MNIST files from ``$SYMML_DATA_DIR/mnist`` (CI points it at ``shared/data``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from symml.cli import app
from symml.data import ChecksumError, DownloadError, _mnist_rot, mnist
from symml.data.mnist import MNIST_FILES
from symml.data.paths import download, sha256_file

# read once, before any test points SYMML_DATA_DIR elsewhere
REAL_MNIST = Path(os.environ.get("SYMML_DATA_DIR") or "/nonexistent") / "mnist"
needs_mnist = pytest.mark.skipif(
    not all((REAL_MNIST / name).is_file() for name in MNIST_FILES),
    reason=f"the four MNIST files are not in {REAL_MNIST}: set SYMML_DATA_DIR to a folder "
    "holding mnist/ (e.g. shared/data) to serve them from a test mirror",
)
OFFLINE_HINT = "(put the four files in $SYMML_DATA_DIR/mnist, see README)"


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["data", "download", *args])


def _one_line(result: Result) -> str:
    """The command's whole output, checked to be one line and no traceback."""
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture(autouse=True)
def _no_data_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """symml searches only empty folders (never the user's or shared/data), unless a test says
    otherwise; returns the first one, where downloads go by default."""
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "data"


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding copies of the four real MNIST files, the only mirror `download_mnist`
    tries."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name in MNIST_FILES:
        shutil.copyfile(REAL_MNIST / name, folder / name)
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (folder.as_uri() + "/",))
    return folder


def _assert_verified(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST_FILES)  # no temp files
    for name, sha256 in MNIST_FILES.items():
        assert sha256_file(folder / name) == sha256, name


@needs_mnist
def test_downloads_into_dest_and_verifies(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "elsewhere"
    result = _invoke("mnist", "--dest", str(dest))
    assert result.exit_code == 0, result.output
    first, note = result.output.strip().splitlines()
    assert first == (
        f"mnist: {dest / 'mnist'} holds the four files; their SHA-256 checksums match the "
        "published ones"
    )
    # DEST is not searched: the note says how to make symml read it
    assert (
        note == f"note: symml does not search {dest}: set SYMML_DATA_DIR={dest} to use these files"
    )
    _assert_verified(dest / "mnist")
    monkeypatch.setenv("SYMML_DATA_DIR", str(dest))
    assert mnist.find_mnist() == dest / "mnist"


@needs_mnist
def test_if_missing_downloads_to_the_first_data_dir_when_absent(
    mirror: Path, _no_data_found: Path
) -> None:
    # `make demo` on an online machine without the files
    result = _invoke("mnist", "--if-missing")
    assert result.exit_code == 0, result.output
    assert "their SHA-256 checksums match" in _one_line(result)  # the folder is searched: no note
    _assert_verified(_no_data_found / "mnist")
    assert mnist.find_mnist() == _no_data_found / "mnist"


@needs_mnist
def test_if_missing_with_verified_files_downloads_nothing(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for file in mirror.iterdir():  # were anything fetched, it would fail
        file.unlink()
    monkeypatch.setenv("SYMML_DATA_DIR", str(REAL_MNIST.parent))
    result = _invoke("mnist", "--if-missing", "--dest", str(tmp_path / "dest"))
    assert result.exit_code == 0, result.output
    assert _one_line(result) == f"mnist: verified files already in {REAL_MNIST}; nothing downloaded"
    assert list(mirror.iterdir()) == [] and not (tmp_path / "dest").exists()


@needs_mnist
@pytest.mark.parametrize("victim", ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
def test_corrupt_mirror_file_is_a_checksum_error_leaving_nothing_partial(
    mirror: Path, tmp_path: Path, victim: str
) -> None:
    data = bytearray((mirror / victim).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (mirror / victim).write_bytes(bytes(data))
    dest = tmp_path / "dest"
    result = _invoke("mnist", "--dest", str(dest))
    assert result.exit_code == 1
    line = _one_line(result)
    assert line.startswith(f"cannot download mnist: no mirror served the published {victim}: ")
    assert f"{mirror.as_uri()}/{victim}: SHA256 " in line
    assert "does not match the published" in line and OFFLINE_HINT not in line
    # files are fetched in MNIST_FILES order: those before the victim are kept (verified, so a
    # rerun resumes); the victim and its temporary file are gone
    kept = list(MNIST_FILES)[: list(MNIST_FILES).index(victim)]
    assert sorted(p.name for p in (dest / "mnist").iterdir()) == sorted(kept)


@needs_mnist
def test_corrupt_file_already_in_dest_says_to_delete_it(mirror: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dest" / "mnist"
    folder.mkdir(parents=True)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not mnist")
    result = _invoke("mnist", "--dest", str(tmp_path / "dest"))
    assert result.exit_code == 1
    line = _one_line(result)
    assert line.startswith(f"cannot download mnist: {folder / 't10k-labels-idx1-ubyte.gz'}: SHA256")
    assert line.endswith("delete it and fetch it again")


def test_unreachable_mirrors_give_the_offline_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _no_data_found: Path
) -> None:
    dead = ("file:///nonexistent/", (tmp_path / "gone").as_uri() + "/")
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", dead)
    result = _invoke("mnist")
    assert result.exit_code == 1
    line = _one_line(result)
    assert line.startswith(
        "cannot download mnist: no mirror could be reached for train-images-idx3-ubyte.gz: "
        "file:///nonexistent/train-images-idx3-ubyte.gz: [Errno 2] No such file or directory"
    )
    assert f"{dead[1]}train-images-idx3-ubyte.gz: [Errno 2]" in line
    assert line.endswith(f"retry when online, or copy the files by hand {OFFLINE_HINT}")
    assert list((_no_data_found / "mnist").iterdir()) == []  # no partial file


@needs_mnist
def test_a_dead_mirror_is_skipped_once_found_dead(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", ("file:///nonexistent/", *mnist.MNIST_MIRRORS))
    tried: list[str] = []

    def spy(url: str, *args: Any, **kwargs: Any) -> Path:
        tried.append(url)
        return download(url, *args, **kwargs)

    monkeypatch.setattr(mnist, "download", spy)
    assert mnist.download_mnist(tmp_path / "dest") == tmp_path / "dest"
    _assert_verified(tmp_path / "dest")
    # the dead mirror costs one try (a timeout, online), not one per file
    assert [url for url in tried if "nonexistent" in url] == [
        "file:///nonexistent/train-images-idx3-ubyte.gz"
    ]
    assert len(tried) == 1 + len(MNIST_FILES)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("fashion", "the other datasets are built from these or generated (`symml data list`)"),
        ("rotated_mnist", "rotated_mnist is built from mnist: `symml data download mnist`"),
    ],
)
def test_unknown_name_exits_2_listing_the_names(name: str, hint: str) -> None:
    result = _invoke(name)
    assert result.exit_code == 2
    assert _one_line(result) == (
        f"cannot download {name!r}: the datasets symml downloads are mnist, mnist_rot; {hint}"
    )


# ----- mnist_rot (one zip, MD5-checked): served from a stand-in file ------------------------------
@pytest.fixture
def rot_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], Path]:
    """Serve a stand-in zip as `MNIST_ROT_URL`; the argument overrides the MD5 symml expects."""
    served = tmp_path / "served.zip"
    served.write_bytes(b"stand-in for mnist_rotation_new.zip")

    def serve(md5: str | None = None) -> Path:
        monkeypatch.setattr(_mnist_rot, "MNIST_ROT_URL", served.as_uri())
        monkeypatch.setattr(
            _mnist_rot, "MNIST_ROT_MD5", md5 or hashlib.md5(served.read_bytes()).hexdigest()
        )
        return served

    return serve


def test_mnist_rot_downloads_and_verifies(
    rot_zip: Callable[[str | None], Path], _no_data_found: Path
) -> None:
    served = rot_zip(None)
    result = _invoke("mnist_rot")
    assert result.exit_code == 0, result.output
    folder = _no_data_found / "mnist_rot"
    assert _one_line(result) == (
        f"mnist_rot: {folder} holds mnist_rotation_new.zip; its MD5 checksum matches the "
        "published one"
    )
    assert (folder / "mnist_rotation_new.zip").read_bytes() == served.read_bytes()
    assert mnist.find_mnist_rot() == folder
    again = _invoke("mnist_rot", "--if-missing")
    assert _one_line(again) == f"mnist_rot: verified files already in {folder}; nothing downloaded"


def test_mnist_rot_errors(
    rot_zip: Callable[[str | None], Path], monkeypatch: pytest.MonkeyPatch, _no_data_found: Path
) -> None:
    served = rot_zip("0" * 32)
    bad = _invoke("mnist_rot")
    assert bad.exit_code == 1
    assert _one_line(bad).startswith(f"cannot download mnist_rot: {served.as_uri()}: MD5 ")
    assert list((_no_data_found / "mnist_rot").iterdir()) == []
    monkeypatch.setattr(_mnist_rot, "MNIST_ROT_URL", "file:///nonexistent/mnist_rotation_new.zip")
    offline = _invoke("mnist_rot")
    assert offline.exit_code == 1
    assert _one_line(offline).endswith(
        "(put mnist_rotation_new.zip in $SYMML_DATA_DIR/mnist_rot, see README)"
    )


# ----- the library: error types, and the timeout that keeps an offline machine from hanging -----
def test_errors_are_the_documented_types(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    with pytest.raises(ChecksumError, match=r"source\.bin: SHA256 .* does not match"):
        download(source.as_uri(), tmp_path / "out.bin", "0" * 64)
    with pytest.raises(DownloadError, match="No such file") as info:
        download((tmp_path / "missing").as_uri(), tmp_path / "out.bin", "0" * 64)
    assert isinstance(info.value, OSError)  # callers catching OSError, as before, still do
    assert sorted(tmp_path.iterdir()) == [source]


def test_a_silent_server_times_out(tmp_path: Path) -> None:
    # a loopback socket that accepts the connection (the kernel does) but never answers: what a
    # stalled mirror looks like, without touching the network
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/file.gz"
        start = time.perf_counter()
        with pytest.raises(DownloadError, match="timed out"):
            download(url, tmp_path / "out" / "file.gz", "0" * 64, timeout=0.5)
        assert time.perf_counter() - start < 5
    assert list((tmp_path / "out").iterdir()) == []
