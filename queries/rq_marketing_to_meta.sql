/* offramp
# The RQ Marketing Report (pulled with `offramp pull rq`) as Meta offline purchases.
destination = "meta"

[settings]
dataset_id = "123456789012345"
access_token_env = "META_ACCESS_TOKEN"
*/
-- One row per report line (a product sold to a customer on a day): the Meta
-- destination groups the lines of one order_id into one event.
--
-- * timestamp: the report has no time column, so the event time is the start of
--   the day window the line was pulled for (window_start).
-- * order_id: md5 of company, day and customer (email, phone digits, name), so it
--   is the same on every re-pull of that day: a customer's purchases of one day
--   at one company are one order.
-- * external_id: 'rq-<company>-' || md5 of the customer's email and phone digits.
-- * currency: prices are in the store's currency, which follows the country most
--   of the company's customers live in: Canada -> CAD, United States -> USD
--   (ties go to the alphabetically first). A company with no such customer gets
--   NULL, and the destination rejects its lines with a reason: add its country to
--   the CASE below.
-- * phone: digits only, and a 10-digit number of a Canadian or US company gets the
--   North American calling code 1.
-- * country: ISO 3166-1 alpha-2 (lower case) for Canada and the US, a two-letter
--   value as given, NULL otherwise (better absent than wrong).
-- * Returns (Quantity <= 0) and lines with neither email nor phone are left out.
WITH lines AS (
    SELECT
        r.*,
        nullif(lower(trim(r.Email)), '') AS email_norm,
        nullif(regexp_replace(coalesce(r.Phone, ''), '[^0-9]', '', 'g'), '') AS phone_digits,
        CASE
            WHEN upper(trim(r.Country)) IN ('CANADA', 'CA', 'CAN') THEN 'CA'
            WHEN upper(trim(r.Country)) IN ('UNITED STATES', 'UNITED STATES OF AMERICA', 'USA',
                                            'US', 'U.S.', 'U.S.A.', 'AMERICA') THEN 'US'
            WHEN length(trim(r.Country)) = 2 THEN upper(trim(r.Country))
        END AS country_code
    FROM rq_marketing_report AS r
),
company_market AS (
    SELECT company_id, country_code AS market
    FROM (
        SELECT
            company_id,
            country_code,
            row_number() OVER (PARTITION BY company_id
                               ORDER BY count(*) DESC, country_code) AS rank
        FROM lines
        WHERE country_code IN ('CA', 'US')
        GROUP BY company_id, country_code
    )
    WHERE rank = 1
)
SELECT
    'rq-' || l.company_id || '-'
        || md5(coalesce(l.email_norm, '') || '|' || coalesce(l.phone_digits, '')) AS external_id,
    md5(concat_ws('|', l.company_id, strftime(l.window_start, '%Y-%m-%d'),
                  coalesce(l.email_norm, ''), coalesce(l.phone_digits, ''),
                  lower(coalesce(l.FirstName, '')), lower(coalesce(l.LastName, '')))) AS order_id,
    l.Quantity AS quantity,
    l.email_norm AS email,
    CASE
        WHEN length(l.phone_digits) = 10 AND m.market IN ('CA', 'US') THEN '1' || l.phone_digits
        ELSE l.phone_digits
    END AS phone,
    l.FirstName AS given_name,
    l.LastName AS surname,
    l.City AS city,
    l.Province AS state,
    l.PostalCode AS postal,
    lower(l.country_code) AS country,
    l.ProductLibraryID AS product_id,
    l.window_start AS "timestamp",
    l.UnitPrice AS price,
    CASE m.market WHEN 'CA' THEN 'CAD' WHEN 'US' THEN 'USD' END AS currency
FROM lines AS l
LEFT JOIN company_market AS m ON m.company_id = l.company_id
WHERE l.Quantity > 0
  AND (l.email_norm IS NOT NULL OR l.phone_digits IS NOT NULL)
