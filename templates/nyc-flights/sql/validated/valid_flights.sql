-- Typed copy of raw_flights (the contract has passed, so every cast succeeds). time_hour is the scheduled hour in
-- UTC as a timestamp without zone: the same value on DuckDB and PostgreSQL whatever the session's time zone.
-- flight_date is the local date of the scheduled departure, the day every daily figure belongs to.
SELECT
    CAST(year AS INTEGER) AS year,
    CAST(month AS INTEGER) AS month,
    CAST(day AS INTEGER) AS day,
    make_date(CAST(year AS INTEGER), CAST(month AS INTEGER), CAST(day AS INTEGER)) AS flight_date,
    CAST(dep_time AS INTEGER) AS dep_time,
    CAST(sched_dep_time AS INTEGER) AS sched_dep_time,
    CAST(dep_delay AS INTEGER) AS dep_delay,
    CAST(arr_time AS INTEGER) AS arr_time,
    CAST(sched_arr_time AS INTEGER) AS sched_arr_time,
    CAST(arr_delay AS INTEGER) AS arr_delay,
    carrier,
    CAST(flight AS INTEGER) AS flight,
    tailnum,
    origin,
    dest,
    CAST(air_time AS INTEGER) AS air_time,
    CAST(distance AS INTEGER) AS distance,
    CAST(hour AS INTEGER) AS hour,
    CAST(minute AS INTEGER) AS minute,
    CAST(time_hour AS TIMESTAMP) AS time_hour,
    line
FROM raw_flights
