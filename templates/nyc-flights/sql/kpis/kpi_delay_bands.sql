-- Arrived flights by arrival delay band. BTS counts a flight on time below 15 minutes late, so the bands break
-- at 0, 15, 45 and 120 minutes. lower is the smallest delay in the band this month (a sort key that needs no
-- invented bound for the open "early" band).
WITH banded AS (
    SELECT
        year,
        month,
        arr_delay,
        CASE
            WHEN arr_delay < 0 THEN 'early'
            WHEN arr_delay < 15 THEN '0–14 min'
            WHEN arr_delay < 45 THEN '15–44 min'
            WHEN arr_delay < 120 THEN '45–119 min'
            ELSE '120 min or more'
        END AS band
    FROM valid_flights
    WHERE arr_delay IS NOT NULL
)
SELECT year, month, band, min(arr_delay) AS lower, count(*) AS flights
FROM banded
GROUP BY year, month, band
