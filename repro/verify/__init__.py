"""Verification: compute each figure of an expected-figure table (expected/*.json) from a run's
results.json and check it.

Exit codes of :func:`verify_run`:
  0  every figure was computed and passes (an *optional* figure may be "not computed");
  1  a figure fails, or a non-optional figure could not be computed from the results (task not run,
     split not scored, encoder absent): a missing input is never a pass;
  2  the run cannot be verified: the expected file or results.json is missing, unreadable or does not
     match its schema (the message names the file and the JSON path), or the aggregate stage is not done.

A figure is computed once per seed (seeds paired across its inputs) and reported as mean ± sd over the
seeds; the verdict uses the mean. The modules: `schema` (files and their JSON schemas), `quantities`
(what a definition computes), `verdicts` (pass / FAIL / not computed), `report` (the command).
"""
from repro.errors import VerifyInputError
from repro.verify.quantities import NotComputed, Run
from repro.verify.report import print_report, verify_results, verify_run
from repro.verify.schema import (FIGURE_SCHEMA, PACKAGE_SCHEMAS, REPO_EXPECTED, RESULTS_SCHEMA, load_expected,
                                 load_results, load_schema, resolve_expected, schema_path)
from repro.verify.verdicts import Outcome, evaluate_figure, exit_code, summary

__all__ = ["FIGURE_SCHEMA", "NotComputed", "Outcome", "PACKAGE_SCHEMAS", "REPO_EXPECTED", "RESULTS_SCHEMA", "Run",
           "VerifyInputError", "evaluate_figure", "exit_code", "load_expected", "load_results", "load_schema",
           "print_report", "resolve_expected", "schema_path", "summary", "verify_results", "verify_run"]
