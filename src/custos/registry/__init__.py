"""The registry: units, sites, cameras as registered things, filings, the unit's duties, reports and
requests for footage (HB-7..HB-18, BJ-5..BJ-17, CN-7..CN-21). Every change is a ledger entry; every
refusal cites its keys. Compliance findings over the whole registry live in `custos.findings`."""
