"""SLA clocks: which clocks there are and what each one does (`specs`), the clock record
(`model`), its arithmetic (`sla`), and the durations and business calendar it counts in."""
