-- One row per aircraft (tail number) flown in the month, with what the FAA registry says about it. Kept at
-- aircraft grain because an aircraft counts once per period: the year's fleet is the distinct tail numbers over
-- its months, which no per-month sum could give. age = flight year − year built; bands are of five and ten years.
WITH flown AS (
    SELECT
        f.year,
        f.month,
        f.tailnum,
        p.tailnum IS NOT NULL AS in_planes,
        p.year AS year_built,
        p.seats,
        p.manufacturer,
        count(*) AS flights
    FROM valid_flights f
    LEFT JOIN valid_planes p ON p.tailnum = f.tailnum
    WHERE f.tailnum IS NOT NULL
    GROUP BY f.year, f.month, f.tailnum, p.tailnum, p.year, p.seats, p.manufacturer
), aged AS (
    SELECT flown.*, year - year_built AS age
    FROM flown
)
SELECT
    year,
    month,
    tailnum,
    in_planes,
    year_built,
    age,
    CASE
        WHEN NOT in_planes THEN NULL
        WHEN age IS NULL THEN 'year built unknown'
        WHEN age < 5 THEN 'under 5 years'
        WHEN age < 10 THEN '5–9 years'
        WHEN age < 15 THEN '10–14 years'
        WHEN age < 20 THEN '15–19 years'
        ELSE '20 years or more'
    END AS age_band,
    seats,
    CASE
        WHEN seats IS NULL THEN NULL
        WHEN seats < 50 THEN 'under 50 seats'
        WHEN seats < 100 THEN '50–99 seats'
        WHEN seats < 150 THEN '100–149 seats'
        WHEN seats < 200 THEN '150–199 seats'
        WHEN seats < 300 THEN '200–299 seats'
        ELSE '300 seats or more'
    END AS seat_band,
    manufacturer,
    flights
FROM aged
