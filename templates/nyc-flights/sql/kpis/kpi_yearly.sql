-- The year's operations: kpi_monthly's columns for a whole year, from its own query, so a year's distinct counts
-- (carriers, destinations, aircraft, days) are exact and the rule "the months add up to the year" compares two
-- computations, not one with itself. Definitions as in kpi_monthly (BTS terms).
SELECT
    year,
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
GROUP BY year
