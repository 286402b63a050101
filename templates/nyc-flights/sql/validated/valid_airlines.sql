-- Typed copy of raw_airlines: both columns are text already; the copy is what the KPI tables read.
SELECT carrier, name, line
FROM raw_airlines
