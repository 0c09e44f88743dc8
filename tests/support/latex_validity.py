"""A structural LaTeX check for the tests, with matplotlib's mathtext as an
independent parser for the pieces it understands (it has no ``aligned``).

    assert_valid_latex(r"$\\frac{\\partial L}{\\partial Z} = A - y$")
"""

import re

from matplotlib.mathtext import MathTextParser

_PARSER = MathTextParser("path")


def text_groups(tex: str) -> list[tuple[int, int]]:
    """(start, end) of the body of every ``\\text{...}``, braces matched."""
    groups = []
    for match in re.finditer(r"\\text\{", tex):
        depth, i = 1, match.end()
        while depth:
            if tex[i] == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(tex[i], 0)
            i += 1
        groups.append((match.end(), i - 1))
    return groups


def _problems_in_text(body: str) -> list[str]:
    """What is wrong in the body of a \\text{...}: raw ^ _ # % & ~ outside $...$."""
    plain = re.sub(r"\$[^$]+\$", "", body)  # inline math is allowed inside \text
    if plain.count("$"):
        return [f"unbalanced $ in \\text{{{body}}}"]
    plain = re.sub(r"\\.", "", plain)  # escaped characters: \_ \{ \%
    return [f"raw {ch!r} in \\text{{{body}}}" for ch in "^_#%&~" if ch in plain]


def problems(tex: str) -> list[str]:
    found = []
    unescaped = re.sub(r"\\.", "", tex)
    if unescaped.count("{") != unescaped.count("}"):
        found.append(f"{unescaped.count('{')} '{{' but {unescaped.count('}')} '}}'")
    depth = 0
    for ch in unescaped:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            found.append("a '}' closes nothing")
            break
    begins, ends = re.findall(r"\\begin\{(\w+)\}", tex), re.findall(r"\\end\{(\w+)\}", tex)
    if begins != ends[::-1]:
        found.append(f"\\begin {begins} and \\end {ends} do not nest")
    if len(re.findall(r"\\left\b", tex)) != len(re.findall(r"\\right\b", tex)):
        found.append("\\left and \\right do not pair")
    for start, end in text_groups(tex):
        found += _problems_in_text(tex[start:end])
    return found


def mathtext_pieces(tex: str) -> list[str]:
    """The cells of an aligned block (or the single formula), \\text bodies
    and matrices replaced by a plain letter (checked separately), as mathtext input."""
    for start, end in reversed(text_groups(tex)):
        tex = tex[:start] + "t" + tex[end:]
    tex = re.sub(
        r"\\left\[\\begin\{matrix\}.*?\\end\{matrix\}\\right\]", "M", tex, flags=re.S
    )  # no matrices in mathtext
    tex = tex.strip().strip("$")
    tex = re.sub(r"\\(begin|end)\{aligned\}", "", tex)
    cells = [cell.strip() for row in tex.split(r"\\") for cell in row.split("&")]
    return [f"${cell}$" for cell in cells if cell]


def assert_valid_latex(tex: str) -> None:
    found = problems(tex)
    assert not found, f"{found}\nin {tex}"
    for piece in mathtext_pieces(tex):
        try:
            _PARSER.parse(piece)
        except ValueError as error:
            raise AssertionError(f"mathtext cannot parse {piece!r}: {error}") from None
