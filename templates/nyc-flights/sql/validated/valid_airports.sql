-- Typed copy of raw_airports (OpenFlights): coordinates as double precision, altitude (feet) and UTC offset as
-- integers.
SELECT
    faa,
    name,
    CAST(lat AS DOUBLE PRECISION) AS lat,
    CAST(lon AS DOUBLE PRECISION) AS lon,
    CAST(alt AS INTEGER) AS alt,
    CAST(tz AS INTEGER) AS tz,
    dst,
    tzone,
    line
FROM raw_airports
