"""The ground every layer stands on: settings, errors, units, logging, payload records, atomic files."""
