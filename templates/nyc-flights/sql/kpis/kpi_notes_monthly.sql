-- The data notes of each month: gaps of the real data that are stated, not refused. Counts of flights and of
-- the distinct codes, tail numbers or origin-hours behind them, read from the KPI tables at finer grain; a month
-- without a gap gets 0, not NULL.
WITH dest AS (
    SELECT year, month, sum(scheduled) AS flights, count(*) AS airports
    FROM kpi_destination_monthly WHERE NOT in_airports GROUP BY year, month
), tail AS (
    SELECT year, month, sum(flights) AS flights, count(*) AS aircraft
    FROM kpi_aircraft_monthly WHERE NOT in_planes GROUP BY year, month
), built AS (
    SELECT year, month, count(*) AS aircraft
    FROM kpi_aircraft_monthly WHERE in_planes AND year_built IS NULL GROUP BY year, month
), weather AS (
    SELECT year, month, sum(flights) AS flights, count(*) AS hours
    FROM kpi_missing_weather_hours GROUP BY year, month
)
SELECT
    m.year,
    m.month,
    CAST(coalesce(dest.flights, 0) AS BIGINT) AS dest_unknown_flights,
    CAST(coalesce(dest.airports, 0) AS BIGINT) AS dest_unknown_airports,
    CAST(m.tailnum_missing_flights AS BIGINT) AS tailnum_missing_flights,
    CAST(coalesce(tail.flights, 0) AS BIGINT) AS tailnum_unknown_flights,
    CAST(coalesce(tail.aircraft, 0) AS BIGINT) AS tailnum_unknown_aircraft,
    CAST(coalesce(weather.flights, 0) AS BIGINT) AS weather_missing_flights,
    CAST(coalesce(weather.hours, 0) AS BIGINT) AS weather_missing_hours,
    CAST(coalesce(built.aircraft, 0) AS BIGINT) AS plane_year_missing_aircraft
FROM kpi_monthly m
LEFT JOIN dest ON dest.year = m.year AND dest.month = m.month
LEFT JOIN tail ON tail.year = m.year AND tail.month = m.month
LEFT JOIN built ON built.year = m.year AND built.month = m.month
LEFT JOIN weather ON weather.year = m.year AND weather.month = m.month
