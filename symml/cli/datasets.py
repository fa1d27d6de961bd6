"""``symml data list | prepare NAME... | download NAME``: where symml looks for datasets,
building them, and fetching the files of those it downloads (`symml.data.downloads`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from symml import data as symml_data
from symml.cli._errors import EXIT_USAGE, OPTIONS, console, first_line


def datasets_table() -> Table:
    """The registered datasets with their splits."""
    table = Table(title="Datasets (symml.data.build(name, split))")
    table.add_column("name")
    table.add_column("splits")
    table.add_column("description")
    for name, description in symml_data.describe().items():
        table.add_row(name, ", ".join(symml_data.splits(name)), description)
    return table


def data_list() -> None:
    """List the datasets and the folders searched for their files."""
    console.print(datasets_table())
    console.print(
        "Searched for data files, in order: " + ", ".join(map(str, symml_data.data_dirs()))
    )
    console.print(f"Generated data is cached in: {symml_data.cache_dir()}")


def data_prepare(
    names: Annotated[list[str], typer.Argument(help="datasets, e.g. mnist rotated_mnist")],
) -> None:
    """Build every split of the named datasets: verifies checksums and fills the cache."""
    table = Table(title="Prepared datasets")
    for column in ("dataset", "split", "samples", "group"):
        table.add_column(column)
    failed = False
    for name in names:
        try:
            for split in symml_data.splits(name):
                with console.status(f"building {name} / {split}"):
                    ds = symml_data.build(name, split)
                table.add_row(name, split, str(len(ds)), repr(ds.group))
            console.print(f"{name}: input {ds.input_rep}, target {ds.target_rep}")
        except (ValueError, OSError) as err:  # unknown name, missing files, checksum errors
            console.print(f"[red]{name}: {first_line(err)}[/red]", soft_wrap=True)
            failed = True
    if table.row_count:
        console.print(table)
    if failed:
        raise typer.Exit(code=EXIT_USAGE)


def data_download(
    name: Annotated[str, typer.Argument(help="the dataset to fetch: mnist or mnist_rot")],
    dest: Annotated[
        Path | None,
        typer.Option(
            help="data folder to put the files in, as DEST/NAME/ (default: the first folder "
            "symml searches, $SYMML_DATA_DIR or ~/.cache/symml/data)"
        ),
    ] = None,
    if_missing: Annotated[
        bool,
        typer.Option(
            "--if-missing", help="download nothing when symml already finds verified files"
        ),
    ] = False,
) -> None:
    """Fetch a dataset's files from its official mirrors, checking the published checksums."""
    # errors quote paths and URLs: escaped, so that no part of them is read as markup
    from symml.data.downloads import downloadable, is_searched

    try:
        target = downloadable(name)
    except ValueError as err:
        console.print(f"[red]{escape(str(err))}[/red]", soft_wrap=True)
        raise typer.Exit(code=EXIT_USAGE) from None
    if if_missing and (found := target.find()) is not None:
        said = f"{name}: verified files already in {escape(str(found))}; nothing downloaded"
        console.print(said, soft_wrap=True)
        return
    folder = target.folder(dest)
    try:
        with console.status(f"downloading {name} into {escape(str(folder))}"):
            target.fetch(folder)
    except (symml_data.DownloadError, symml_data.ChecksumError, OSError) as err:
        if OPTIONS.debug:
            raise
        # offline or mirrors down (a DownloadError): say how to do without
        by_hand = (
            f"; retry when online, or copy the files by hand (put {target.files} in "
            f"$SYMML_DATA_DIR/{name}, see README)"
            if isinstance(err, symml_data.DownloadError)
            else ""
        )
        console.print(
            f"[red]cannot download {name}: {escape(str(err))}{by_hand}[/red]", soft_wrap=True
        )
        raise typer.Exit(code=1) from None
    console.print(
        f"{name}: {escape(str(folder))} holds {target.files}; {target.verified}", soft_wrap=True
    )
    if not is_searched(folder):
        console.print(
            f"note: symml does not search {escape(str(folder.parent))}: set "
            f"SYMML_DATA_DIR={escape(str(folder.parent))} to use these files",
            soft_wrap=True,
        )
