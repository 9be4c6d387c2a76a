"""Charts, their theme and translations, the data behind them, and the weekly and half-yearly reports."""
