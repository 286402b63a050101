-- The data notes of each year, like kpi_notes_monthly: flights are sums of the months, but the distinct codes,
-- tail numbers and origin-hours are counted again over the year (an aircraft missing in two months is one).
WITH dest AS (
    SELECT year, sum(scheduled) AS flights, count(DISTINCT dest) AS airports
    FROM kpi_destination_monthly WHERE NOT in_airports GROUP BY year
), tail AS (
    SELECT year, sum(flights) AS flights, count(DISTINCT tailnum) AS aircraft
    FROM kpi_aircraft_monthly WHERE NOT in_planes GROUP BY year
), built AS (
    SELECT year, count(DISTINCT tailnum) AS aircraft
    FROM kpi_aircraft_monthly WHERE in_planes AND year_built IS NULL GROUP BY year
), weather AS (
    SELECT year, sum(flights) AS flights, count(*) AS hours
    FROM kpi_missing_weather_hours GROUP BY year
), months AS (
    SELECT year, sum(tailnum_missing_flights) AS tailnum_missing_flights
    FROM kpi_monthly GROUP BY year
)
SELECT
    m.year,
    CAST(coalesce(dest.flights, 0) AS BIGINT) AS dest_unknown_flights,
    CAST(coalesce(dest.airports, 0) AS BIGINT) AS dest_unknown_airports,
    CAST(m.tailnum_missing_flights AS BIGINT) AS tailnum_missing_flights,
    CAST(coalesce(tail.flights, 0) AS BIGINT) AS tailnum_unknown_flights,
    CAST(coalesce(tail.aircraft, 0) AS BIGINT) AS tailnum_unknown_aircraft,
    CAST(coalesce(weather.flights, 0) AS BIGINT) AS weather_missing_flights,
    CAST(coalesce(weather.hours, 0) AS BIGINT) AS weather_missing_hours,
    CAST(coalesce(built.aircraft, 0) AS BIGINT) AS plane_year_missing_aircraft
FROM months m
LEFT JOIN dest ON dest.year = m.year
LEFT JOIN tail ON tail.year = m.year
LEFT JOIN built ON built.year = m.year
LEFT JOIN weather ON weather.year = m.year
