-- The month per carrier, with the airline's name (a carrier missing from airlines is refused by the contract,
-- so the join never loses a flight; LEFT JOIN all the same, so a count can never silently shrink).
SELECT
    f.year,
    f.month,
    f.carrier,
    a.name,
    count(*) AS scheduled,
    count(f.dep_time) AS departed,
    count(*) FILTER (WHERE f.dep_time IS NULL) AS cancelled,
    count(f.arr_delay) AS arrived,
    count(*) FILTER (WHERE f.dep_time IS NOT NULL AND f.arr_delay IS NULL) AS diverted,
    count(*) FILTER (WHERE f.arr_delay < 15) AS on_time,
    count(*) FILTER (WHERE f.dep_delay >= 15) AS delayed_departures,
    CAST(coalesce(sum(f.dep_delay), 0) AS BIGINT) AS dep_delay_minutes,
    count(f.dep_delay) AS dep_delay_flights,
    CAST(coalesce(sum(f.arr_delay), 0) AS BIGINT) AS arr_delay_minutes,
    count(f.arr_delay) AS arr_delay_flights
FROM valid_flights f
LEFT JOIN valid_airlines a ON a.carrier = f.carrier
GROUP BY f.year, f.month, f.carrier, a.name
