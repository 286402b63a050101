-- Departures against the weather of their origin-hour (flights without an observation, or without the factor's
-- value, are left out). An association, not a cause. Bands: precipitation in inches per hour, visibility in
-- miles, wind speed in mph, as ASOS reports them; lower is the smallest value in the band this month.
WITH observed AS (
    SELECT f.year, f.month, f.dep_delay, w.precip, w.visib, w.wind_speed
    FROM valid_flights f
    JOIN valid_weather w ON w.origin = f.origin AND w.time_hour = f.time_hour
    WHERE f.dep_time IS NOT NULL
), banded AS (
    SELECT year, month, 'precipitation' AS factor,
        CASE WHEN precip = 0 THEN 'none' WHEN precip < 0.1 THEN 'under 0.1 in' ELSE '0.1 in or more' END AS band,
        precip AS value, dep_delay
    FROM observed WHERE precip IS NOT NULL
    UNION ALL
    SELECT year, month, 'visibility' AS factor,
        CASE WHEN visib < 1 THEN 'under 1 mile' WHEN visib < 5 THEN '1 to under 5 miles'
             WHEN visib < 10 THEN '5 to under 10 miles' ELSE '10 miles or more' END AS band,
        visib AS value, dep_delay
    FROM observed WHERE visib IS NOT NULL
    UNION ALL
    SELECT year, month, 'wind' AS factor,
        CASE WHEN wind_speed = 0 THEN 'calm' WHEN wind_speed < 10 THEN 'under 10 mph'
             WHEN wind_speed < 20 THEN '10 to under 20 mph' ELSE '20 mph or more' END AS band,
        wind_speed AS value, dep_delay
    FROM observed WHERE wind_speed IS NOT NULL
)
SELECT
    year,
    month,
    CAST(factor AS VARCHAR(20)) AS factor,
    CAST(band AS VARCHAR(40)) AS band,
    min(value) AS lower,
    count(*) AS departed,
    CAST(coalesce(sum(dep_delay), 0) AS BIGINT) AS dep_delay_minutes,
    count(dep_delay) AS dep_delay_flights,
    count(*) FILTER (WHERE dep_delay >= 15) AS delayed_departures
FROM banded
GROUP BY year, month, factor, band
