-- error: column 'emial' is not in the warehouse tables the query reads; did you mean email?
SELECT c.emial FROM Customer_360 c
