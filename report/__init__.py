"""Charts for the weekly report and notebooks: report.charts, report.theme, report.i18n."""
