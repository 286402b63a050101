"""Asset checks. The data contract blocks the report; consistency findings warn; the PDF is checked as a file.

The blocking check is what keeps a bad spreadsheet from producing a report: when it fails, Dagster does not run
the downstream assets, and the check's metadata lists every failing cell with file, row, column and rule.
`report_checks` makes it for one report, as a step of its own. The other checks are specs and results that the
assets they check yield (`consistency_specs` / `consistency_results` on `report_figures`, `pdf_specs` /
`pdf_results` on `report_pdf`): one consistency check per rule the report declares (a report without rules has
none, rather than a green check that never ran), and the PDF's two blocking checks."""


import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetsDefinition,
    DynamicPartitionsDefinition,
    MetadataValue,
    PreviewWarning,
    TableColumn,
    TableRecord,
    TableSchema,
    asset_check,
)

from pipeline.defs import markdown
from pipeline.defs.partitions import names
from pipeline.lib.build import Analysis, Pdf
from pipeline.lib.conformance import check_pdf
from pipeline.lib.errors import SourceDataError
from pipeline.lib.pdf_facts import read_pdf
from pipeline.lib.report_def import Report
from pipeline.lib.sources import EditionSources
from pipeline.lib.validate import SCHEMA_VERSION, validate_edition

#: Checks are partitioned like their assets (else a check loads every edition's data); the API is in preview.
warnings.filterwarnings("ignore", "Specifying a partitions_def on an AssetCheckSpec", PreviewWarning)


def problems_table(error: SourceDataError) -> MetadataValue:
    """Every failing cell as a table the check's page shows as it is (Markdown hides behind a click)."""
    columns = [("file", "the edition file"), ("row", "its line in the file; header = 1"), ("column", ""),
               ("rule", "the contract rule it breaks"), ("value", "what the cell holds")]
    return MetadataValue.table(
        records=[TableRecord({k: "" if v is None else str(v) for k, v in p.as_dict().items()})
                 for p in error.problems],
        schema=TableSchema(columns=[TableColumn(name, "string", description=text or None)
                                    for name, text in columns]))


def report_checks(report: Report, assets: Sequence[AssetsDefinition],
                  editions: DynamicPartitionsDefinition) -> list[AssetChecksDefinition]:
    """The check of `report` that runs as a step of its own: the data contract on `source_tables` (as made by
    `report_assets`). The consistency and PDF checks are yielded by the assets they check (`consistency_specs`,
    `pdf_specs`): their results are computed there anyway, and a step of its own would only reload its input."""
    source_tables = next(a for a in assets if a.key.path[-1] == "source_tables")

    @asset_check(asset=source_tables, blocking=True, partitions_def=editions,
                 description="The pandera data contract: types, units, ranges per unit, unique keys, known sources. "
                             "Failed: nothing of this edition is built or published and readers keep the last "
                             "version; the table below lists every failing cell (file, row, column, rule, value). "
                             "Fix those cells in sources/<report>/<edition>/, check with `python -m pipeline "
                             "validate --edition <edition>`, and build again.")
    def source_tables_valid(source_tables: EditionSources) -> AssetCheckResult:
        try:
            validated = validate_edition(source_tables, report.tables)
        except SourceDataError as error:
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.ERROR,
                description=str(error),
                metadata={"problem_count": len(error.problems), "schema_version": SCHEMA_VERSION,
                          "problems": problems_table(error),
                          "problems_json": MetadataValue.json([p.as_dict() for p in error.problems])},
            )
        return AssetCheckResult(passed=True, metadata={"row_count": len(validated.metrics),
                                                       "schema_version": SCHEMA_VERSION})

    return [source_tables_valid]


def consistency_specs(report: Report, editions: DynamicPartitionsDefinition) -> list[AssetCheckSpec]:
    """One check per consistency rule, on `report_figures` (none for a report without rules). A failure is a
    WARN: the report publishes the figures as the source states them and says in its data notes where they
    disagree; nothing to fix in the pipeline, but the figures' owner should know."""
    key = AssetKey([names(report).key, "report_figures"])
    return [AssetCheckSpec(rule.check_id, asset=key, partitions_def=editions,
                           description=rule.title) for rule in report.rules]


def consistency_results(report: Report, analysis: Analysis) -> Iterator[AssetCheckResult]:
    findings = {f.check_id: f for f in analysis.findings}
    for rule in report.rules:
        finding = findings.get(rule.check_id)
        if finding is None:  # the edition lacks a figure the rule needs: nothing to compare
            yield AssetCheckResult(check_name=rule.check_id, passed=True,
                                   metadata={"skipped": "figures not present in this edition"})
            continue
        yield AssetCheckResult(check_name=rule.check_id, passed=finding.passed, severity=AssetCheckSeverity.WARN,
                               description=finding.message,
                               metadata={"figures": MetadataValue.json(list(finding.metric_ids))})


PUBLISHABLE = ("The PDF has pages, embeds every font, uses the SC variant of Noto CJK, and its text can be "
               "extracted. Failed: the PDF is not published and readers keep the last version; the message names "
               "what is wrong, usually the fonts of this machine (REPORT_FONT_DIR, Debian's fonts-noto-cjk).")
CONFORMANT = ("The PDF conforms to PDF/UA-1 and PDF/A-3a: zero failed rules of the offline validator "
              "(page-validation) for each profile. Failed: the PDF is not published and readers keep the last "
              "version; failed_rules lists each rule with its message, most often a template change (a heading "
              "level skipped, an image without a text alternative).")


def pdf_specs(report: Report, editions: DynamicPartitionsDefinition) -> list[AssetCheckSpec]:
    """The two blocking checks of `report_pdf`: a failed one keeps the PDF from being published."""
    key = AssetKey([names(report).key, "report_pdf"])
    return [AssetCheckSpec("pdf_publishable", asset=key, blocking=True, partitions_def=editions,
                           description=PUBLISHABLE),
            AssetCheckSpec("pdf_conformant", asset=key, blocking=True, partitions_def=editions,
                           description=CONFORMANT)]


def pdf_results(pdf: Pdf) -> Iterator[AssetCheckResult]:
    # The validator is Rust and releases the GIL, so it runs beside pypdf's read-back instead of after it: the two
    # checks sit between the PDF and its publication, on every build's critical path.
    with ThreadPoolExecutor(max_workers=1) as pool:
        conformance = pool.submit(check_pdf, pdf.data)
        facts = read_pdf(pdf.data, full_text=False)  # text up to the first page in the PDF's language is enough
        verdict = conformance.result()
    problems = facts.problems()
    yield AssetCheckResult(
        check_name="pdf_publishable", passed=not problems, severity=AssetCheckSeverity.ERROR,
        description="; ".join(problems) or "publishable",
        metadata={"pages": facts.pages, "fonts": MetadataValue.json([f.name for f in facts.fonts]),
                  "extracted_characters": len(facts.text)},
    )
    failed = [{"profile": r.profile, "rule": r.rule_id, "count": r.count, "message": r.message}
              for r in verdict.failed]
    yield AssetCheckResult(
        check_name="pdf_conformant", passed=verdict.passed, severity=AssetCheckSeverity.ERROR,
        description=verdict.summary(),
        metadata={"failed_rule_count": len(failed), "validator": verdict.validator,
                  "validator_seconds": round(verdict.seconds, 3),
                  "profiles": MetadataValue.json({p.profile: {"compliant": p.compliant, "rules": p.rules_checked,
                                                             "failed": len(p.failed)} for p in verdict.profiles}),
                  "failed_rules": MetadataValue.md(markdown.table(failed, ["profile", "rule", "count", "message"])
                                                   if failed else "none")},
    )
