-- One row per local day of scheduled departure; isodow is the ISO weekday (1 = Monday … 7 = Sunday), so the
-- weekday table and the daily chart need no calendar of their own.
WITH days AS (
    SELECT f.*, CAST(extract(isodow FROM f.flight_date) AS INTEGER) AS isodow
    FROM valid_flights f
)
SELECT
    year,
    month,
    day,
    isodow,
    count(*) AS scheduled,
    count(dep_time) AS departed,
    count(*) FILTER (WHERE dep_time IS NULL) AS cancelled,
    count(arr_delay) AS arrived,
    count(*) FILTER (WHERE arr_delay < 15) AS on_time,
    count(*) FILTER (WHERE dep_delay >= 15) AS delayed_departures,
    CAST(coalesce(sum(dep_delay), 0) AS BIGINT) AS dep_delay_minutes,
    count(dep_delay) AS dep_delay_flights,
    CAST(coalesce(sum(arr_delay), 0) AS BIGINT) AS arr_delay_minutes,
    count(arr_delay) AS arr_delay_flights
FROM days
GROUP BY year, month, day, isodow
