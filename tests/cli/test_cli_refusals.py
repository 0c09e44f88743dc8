"""Input that could crash the command line with a traceback is refused with
exit status 2 and one line: `microgrid draw` (the parser is shared with check)."""

import pytest

from microgrid.cli import main


@pytest.mark.parametrize(
    "expression, says",
    [
        (" " + "-" * 1990 + "x", "levels deep"),
        ("x*10.0**400", "out of range"),
        ("(x+1)**999", "terms"),
        ("x/(1-1)", "divides by zero"),
    ],
)
def test_draw_refuses_without_a_traceback(capsys, tmp_path, expression, says):
    status = main(["draw", expression, "--at", "x=1", "-o", str(tmp_path / "g.dot")])
    out, err = capsys.readouterr()
    assert status == 2 and not out
    assert err.startswith("microgrid draw:") and says in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "g.dot").exists()
