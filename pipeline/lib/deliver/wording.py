"""The sentences of a delivery e-mail, per language.

The engine writes no prose of its own in code: the message is assembled from a `Wording`, so a report in
another language passes its own. Two are provided, for the languages the report definitions use (`zh-CN`, `en`).
Placeholders are `str.format` fields; each sentence names the ones it may use."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.lib.deliver.errors import DeliveryError


@dataclass(frozen=True)
class Wording:
    greeting: str  # no name known
    greeting_named: str  # {name}
    intro: str  # {title}, {edition}, {version}
    summary_heading: str
    changes_heading: str
    download: str  # {url}
    attached: str  # {filename}
    too_large: str  # {size}, {limit}: why a subscriber who asked for the PDF gets the link only
    footer: str


ZH_CN = Wording(
    greeting="您好：",
    greeting_named="{name}，您好：",
    intro="{title}（{edition}）已发布新版本 {version}。",
    summary_heading="摘要",
    changes_heading="本版变化",
    download="下载链接：{url}",
    attached="PDF 文件见附件（{filename}）。",
    too_large="PDF 文件（{size}）超过邮件附件上限（{limit}），因此本邮件只附下载链接。",
    footer="您收到此邮件，是因为您订阅了本报告。如需退订，请联系报告负责人。",
)

EN = Wording(
    greeting="Hello,",
    greeting_named="Hello {name},",
    intro="A new version of {title} ({edition}) is published: {version}.",
    summary_heading="Summary",
    changes_heading="What changed",
    download="Download: {url}",
    attached="The PDF is attached ({filename}).",
    too_large="The PDF ({size}) is larger than the {limit} we attach to e-mails, so this message carries the "
              "download link only.",
    footer="You receive this because you are subscribed to this report; to stop, ask the report's operator.",
)

WORDINGS = {"zh-CN": ZH_CN, "en": EN}


def wording_for(language: str) -> Wording:
    """The stock wording for a language tag: exact (`zh-CN`), else by its primary subtag (`zh`, `en-GB`)."""
    if language in WORDINGS:
        return WORDINGS[language]
    primary = language.split("-")[0].lower()
    for tag, wording in WORDINGS.items():
        if tag.split("-")[0].lower() == primary:
            return wording
    raise DeliveryError(f"no e-mail wording for language {language!r}; pass a Wording (known: "
                        f"{', '.join(WORDINGS)})")
