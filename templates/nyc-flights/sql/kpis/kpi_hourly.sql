-- The month by hour of scheduled departure (local time): how delays build up over the day.
SELECT
    year,
    month,
    hour,
    count(*) AS scheduled,
    count(*) FILTER (WHERE dep_time IS NULL) AS cancelled,
    count(*) FILTER (WHERE dep_delay >= 15) AS delayed_departures,
    CAST(coalesce(sum(dep_delay), 0) AS BIGINT) AS dep_delay_minutes,
    count(dep_delay) AS dep_delay_flights
FROM valid_flights
GROUP BY year, month, hour
