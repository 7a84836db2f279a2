"""JUnit XML: one test case per scanned file, one failure per finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import groupby
from typing import TextIO

from perfaudit.model import ScanResult
from perfaudit.reporters.base import Options, Reporter


def to_xml(result: ScanResult) -> ET.Element:
    by_path = {p: list(g) for p, g in groupby(result.findings, key=lambda f: f.path)}
    paths = list(dict.fromkeys([*result.paths, *by_path]))
    # JUnit counts test cases: a file with findings is one failed case (its findings are
    # its <failure> elements), and the outer totals are the sums of the one suite's
    failed = str(sum(1 for p in paths if p in by_path))
    suites = ET.Element("testsuites", name="perfaudit", tests=str(len(paths)),
                        failures=failed, errors="0")
    suite = ET.SubElement(suites, "testsuite", name="perfaudit", tests=str(len(paths)),
                          failures=failed, errors="0", skipped="0")
    for path in paths:
        case = ET.SubElement(suite, "testcase", name=path, classname="perfaudit", file=path)
        for f in by_path.get(path, []):
            fail = ET.SubElement(case, "failure", type=f.code,
                                 message=f"{f.code} {f.message}")
            fail.text = f"{path}:{f.span.line}:{f.span.column}: {f.code} {f.message}"
    return suites


class JunitReporter(Reporter):
    name = "junit"
    suffix = ".xml"

    def render(self, result: ScanResult, out: TextIO, options: Options) -> None:
        tree = to_xml(result)
        ET.indent(tree)
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(ET.tostring(tree, encoding="unicode"))
        out.write("\n")
