-- Typed copy of raw_weather (IEM ASOS): one observation per origin and UTC hour (time_hour, as in valid_flights).
SELECT
    origin,
    CAST(year AS INTEGER) AS year,
    CAST(month AS INTEGER) AS month,
    CAST(day AS INTEGER) AS day,
    CAST(hour AS INTEGER) AS hour,
    CAST(temp AS DOUBLE PRECISION) AS temp,
    CAST(dewp AS DOUBLE PRECISION) AS dewp,
    CAST(humid AS DOUBLE PRECISION) AS humid,
    CAST(wind_dir AS DOUBLE PRECISION) AS wind_dir,
    CAST(wind_speed AS DOUBLE PRECISION) AS wind_speed,
    CAST(wind_gust AS DOUBLE PRECISION) AS wind_gust,
    CAST(precip AS DOUBLE PRECISION) AS precip,
    CAST(pressure AS DOUBLE PRECISION) AS pressure,
    CAST(visib AS DOUBLE PRECISION) AS visib,
    CAST(time_hour AS TIMESTAMP) AS time_hour,
    line
FROM raw_weather
