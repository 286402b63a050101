-- Origin-hours that have flights but no weather observation (IEM ASOS has gaps): one row per origin and UTC
-- hour, with its flights, for the data note. Every flight counts, cancelled or not, as the contract's note does.
SELECT
    f.year,
    f.month,
    f.origin,
    CAST(f.time_hour AS VARCHAR(19)) AS time_hour,
    count(*) AS flights
FROM valid_flights f
WHERE NOT EXISTS (
    SELECT 1 FROM valid_weather w WHERE w.origin = f.origin AND w.time_hour = f.time_hour
)
GROUP BY f.year, f.month, f.origin, f.time_hour
