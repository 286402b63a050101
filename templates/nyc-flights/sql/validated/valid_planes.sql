-- Typed copy of raw_planes (FAA registry): year built may be missing (a data note counts those aircraft).
SELECT
    tailnum,
    CAST(year AS INTEGER) AS year,
    type,
    manufacturer,
    model,
    CAST(engines AS INTEGER) AS engines,
    CAST(seats AS INTEGER) AS seats,
    CAST(speed AS INTEGER) AS speed,
    engine,
    line
FROM raw_planes
