"""How a person reads a date or a time on this platform (pages, PDFs, SMS and e-mail), in
Beijing time: the one place these formats are written (docs/decisions/0020).

2026-12-03 09:23 rather than Django's zh-Hans 2026年12月3日 09:23: the same width in every row
of a table, sorts as it reads, and is the form the receipts, the AIS and the gateways use, so a
learner or an auditor comparing our page with another system sees the same text. Templates name
these formats (`|date:"DATETIME_FORMAT"`, `|date:"DATE_FORMAT"`, `|time:"TIME_FORMAT"`); Python
text goes through cpe.core.datefmt. What is not set here (input formats, month names) stays
Django's zh-Hans."""

DATE_FORMAT = "Y-m-d"  # 2026-12-03
TIME_FORMAT = "H:i"  # 09:23 (a deadline later the same day: the payment's 30 minutes)
DATETIME_FORMAT = "Y-m-d H:i"  # 2026-12-03 09:23
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
YEAR_MONTH_FORMAT = "Y-m"  # 2026-12 (the admin's date drill-down)
MONTH_DAY_FORMAT = "m-d"  # 12-03 (the admin's date drill-down, within a year)
