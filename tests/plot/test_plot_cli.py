"""``aionetstack plot`` and the demo's PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from plot_support import png_size

from aionetstack import cli, plot
from aionetstack.demo import run_demo


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_plot_capture(made: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "graph.png"
    code, text, err = _main(capsys, "plot", str(made["path"]), "-o", str(out), "--connection", "1")
    assert code == 0, err
    assert "198.18.0.1:" in text and f"wrote {out}" in text
    assert png_size(out) == (1000, 600)


def test_plot_default_output_and_tcp_info(
    made: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    pytest.importorskip("matplotlib")
    csv = tmp_path / "samples.csv"
    plot.write_tcp_info_csv(made["samples"], csv)
    code, text, err = _main(capsys, "plot", "--tcp-info", str(csv))
    assert code == 0, err
    assert (tmp_path / "samples.png").stat().st_size > 10_000
    assert f"{len(made['samples'])} tcp_info samples" in text


def test_plot_errors_are_one_line(made: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    code, _, err = _main(capsys, "plot", str(made["path"]), "--connection", "3")
    assert code == 1 and "no connection 3" in err and len(err.strip().splitlines()) == 1
    code, _, err = _main(capsys, "plot")
    assert code == 2 and "CAPTURE" in err
    code, _, err = _main(capsys, "plot", str(made["path"]), "--tcp-info", "x.csv")
    assert code == 2 and "one of them" in err
    (tmp_path / "junk.pcap").write_bytes(b"not a capture at all")
    code, _, err = _main(capsys, "plot", str(tmp_path / "junk.pcap"))
    assert code == 1 and "junk.pcap" in err and "Traceback" not in err
    code, _, err = _main(capsys, "plot", str(tmp_path / "absent.pcap"))
    assert code == 1 and "absent.pcap" in err


def test_plot_without_matplotlib_names_the_extra(
    made: dict[str, Any],
    tmp_path: Path,
    capsys: Any,
    no_matplotlib: None,
) -> None:
    code, _, err = _main(capsys, "plot", str(made["path"]), "-o", str(tmp_path / "x.png"))
    assert code == 1 and "aionetstack[plot]" in err
    assert not (tmp_path / "x.png").exists()


async def test_demo_writes_its_png(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("matplotlib")
    summary = await run_demo(size=100_000, pcap_path=str(tmp_path / "d.pcap"), seed=51)
    assert summary["png"] == str(tmp_path / "d.png")
    assert png_size(tmp_path / "d.png") == (1000, 600)
    assert "time-sequence graph of the transfer" in capsys.readouterr().out


async def test_demo_without_matplotlib(tmp_path: Path, capsys: Any, no_matplotlib: None) -> None:
    summary = await run_demo(size=20_000, pcap_path=str(tmp_path / "d.pcap"), seed=51)
    assert summary["png"] is None and summary["ok"]
    assert "no graph of the transfer" in capsys.readouterr().out
    assert not (tmp_path / "d.png").exists()
