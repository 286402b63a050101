-- The month per destination. A few destinations (BTS codes of the time) are missing from the OpenFlights airports
-- table: name is then NULL and in_airports false, which the data note counts instead of dropping the flights.
SELECT
    f.year,
    f.month,
    f.dest,
    a.name,
    a.faa IS NOT NULL AS in_airports,
    count(*) AS scheduled,
    count(*) FILTER (WHERE f.dep_time IS NULL) AS cancelled,
    count(f.arr_delay) AS arrived,
    count(*) FILTER (WHERE f.arr_delay < 15) AS on_time,
    CAST(coalesce(sum(f.arr_delay), 0) AS BIGINT) AS arr_delay_minutes,
    count(f.arr_delay) AS arr_delay_flights
FROM valid_flights f
LEFT JOIN valid_airports a ON a.faa = f.dest
GROUP BY f.year, f.month, f.dest, a.name, a.faa
