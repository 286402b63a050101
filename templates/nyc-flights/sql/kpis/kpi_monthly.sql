-- The month's operations at the three New York airports together, in BTS terms: scheduled = every flight;
-- departed = has a dep_time, cancelled = has none; arrived = has an arr_delay; diverted = departed without an
-- arr_delay; on time = arr_delay under 15 minutes. Delay sums and the counts they divide by are kept apart so a
-- mean is always over the flights that have a value. days = calendar days with at least one scheduled flight;
-- carriers, destinations and aircraft (tail numbers) are distinct counts, which is why kpi_yearly exists.
SELECT
    year,
    month,
    count(*) AS scheduled,
    count(dep_time) AS departed,
    count(*) FILTER (WHERE dep_time IS NULL) AS cancelled,
    count(arr_delay) AS arrived,
    count(*) FILTER (WHERE dep_time IS NOT NULL AND arr_delay IS NULL) AS diverted,
    count(*) FILTER (WHERE arr_delay < 15) AS on_time,
    count(*) FILTER (WHERE dep_delay >= 15) AS delayed_departures,
    CAST(coalesce(sum(dep_delay), 0) AS BIGINT) AS dep_delay_minutes,
    count(dep_delay) AS dep_delay_flights,
    CAST(coalesce(sum(arr_delay), 0) AS BIGINT) AS arr_delay_minutes,
    count(arr_delay) AS arr_delay_flights,
    count(*) FILTER (WHERE tailnum IS NULL) AS tailnum_missing_flights,
    count(DISTINCT flight_date) AS days,
    count(DISTINCT carrier) AS carriers,
    count(DISTINCT dest) AS destinations,
    count(DISTINCT tailnum) AS aircraft
FROM valid_flights
GROUP BY year, month
