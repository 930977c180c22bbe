#!/usr/bin/env python3
"""Writes heldout-2.jsonl: a second held-out set of hand-written answer pairs.

Written in one sitting, before any comparator was changed for the classes it covers
(identifiers and versions, decimals with units, temperature differences, code where
whitespace is syntax, SQL, prompt words that name the alternatives, ordered lists, role
swaps, comparatives, other languages, paraphrases, long answers). Every pair below is
written out by hand; nothing is combined or generated. The label says whether the two
answers state the same result for the prompt (a strict reading: `007` is not `7`, a
string literal's spacing counts). Run: python3 make_heldout2.py
"""
import json

P = []
counts = {}


def add(category, prompt, primary, fallback, equivalent):
    counts[category] = counts.get(category, 0) + 1
    P.append({"id": f"h2-{category}-{counts[category]:03d}", "category": category,
              "prompt": prompt, "primary": primary, "fallback": fallback,
              "equivalent": equivalent})


T, F = True, False

# ---- identifiers, versions, section numbers, leading zeros ---------------------------
add("identifiers", "What is the order ID in the confirmation email?", "12345678901234567890", "The order ID is 12345678901234567891.", F)
add("identifiers", "What is the order ID in the confirmation email?", "12345678901234567890", "Order ID: 12345678901234567890", T)
add("identifiers", "What is the tracking number?", "1Z999AA10123456784", "Tracking number: 1Z999AA10123456784", T)
add("identifiers", "What is the tracking number?", "1Z999AA10123456784", "1Z999AA10123456785", F)
add("identifiers", "Which version of the library fixed the bug?", "1.10", "1.1", F)
add("identifiers", "Which version of the library fixed the bug?", "Version 1.10", "1.10", T)
add("identifiers", "Which version of the library fixed the bug?", "2.0.1", "2.0.10", F)
add("identifiers", "Which Python version added the walrus operator?", "3.8", "Python 3.8", T)
add("identifiers", "Which Python version added the walrus operator?", "Python 3.8", "Python 3.80", F)
add("identifiers", "What is James Bond's agent number?", "007", "7", F)
add("identifiers", "What is James Bond's agent number?", "007", "Agent number 007", T)
add("identifiers", "What is the ZIP code of the White House?", "20500", "The ZIP code is 20500.", T)
add("identifiers", "What is the ZIP code of Holtsville, NY?", "00501", "501", F)
add("identifiers", "Which section of the manual covers backups?", "Section 3.10", "Section 3.1", F)
add("identifiers", "Which section of the manual covers backups?", "3.10", "Section 3.10", T)
add("identifiers", "Which clause of the contract covers termination?", "Clause 12.4", "Clause 12.40", F)
add("identifiers", "What is the account number on the statement?", "000123456", "123456", F)
add("identifiers", "What is the account number on the statement?", "000123456", "Account number: 000123456", T)
add("identifiers", "What is the ISBN of the book?", "978-0-13-110362-7", "978-0-13-110362-8", F)
add("identifiers", "What is the commit hash that introduced the regression?", "a1b2c3d", "a1b2c3e", F)
add("identifiers", "What is the commit hash that introduced the regression?", "a1b2c3d", "Commit a1b2c3d", T)
add("identifiers", "What HTTP status code means Not Found?", "404", "HTTP 404", T)
add("identifiers", "What HTTP status code means Not Found?", "404", "440", F)
add("identifiers", "What port does PostgreSQL listen on by default?", "5432", "Port 5432", T)
add("identifiers", "What port does PostgreSQL listen on by default?", "5432", "5433", F)
add("identifiers", "What is the invoice number?", "INV-2024-00017", "INV-2024-0017", F)
add("identifiers", "Which kernel version first shipped the driver?", "5.10", "5.1", F)
add("identifiers", "Which kernel version first shipped the driver?", "5.10", "Kernel 5.10", T)
add("identifiers", "Which RFC defines HTTP semantics?", "RFC 9110", "9110", T)
add("identifiers", "What is the support phone extension?", "0042", "42", F)
add("identifiers", "What is 2 to the power of 64?", "18446744073709551616", "18,446,744,073,709,551,616", T)
add("identifiers", "What is 2 to the power of 64?", "18446744073709551616", "18446744073709551615", F)
add("identifiers", "What is the customer's reference number?", "Reference 98765432109876543210", "98765432109876543211", F)
add("identifiers", "In which chapter is the proof? Give the chapter and section number.", "4.2", "4.20", F)

# ---- decimals with units, measurements ---------------------------------------------
add("quantities", "How much does the coffee cost?", "1.50 USD", "$1.5", T)
add("quantities", "How much does the coffee cost?", "1.50 USD", "$1.05", F)
add("quantities", "How long did the request take?", "0.250 s", "250 ms", T)
add("quantities", "What is the interest rate?", "4.50%", "4.5%", T)
add("quantities", "What is the interest rate?", "4.50%", "4.05%", F)
add("quantities", "What is the price per share?", "€12.10", "€12.1", T)
add("quantities", "What is the price per share?", "€12.10", "€12.01", F)
add("quantities", "How tall is the tower?", "330.0 m", "330 metres", T)
add("quantities", "What is the average rainfall in May?", "2.50 inches", "2.5 inches", T)
add("quantities", "How heavy is the parcel?", "2.50 kg", "2500 g", T)
add("quantities", "How heavy is the parcel?", "2.50 kg", "250 g", F)
# temperatures: absolute values and differences
add("quantities", "The temperature rose by 10 °C overnight. How large is that rise in °F?", "18 °F", "50 °F", F)
add("quantities", "The temperature rose by 10 °C overnight. How large is that rise in °F?", "18 °F", "A rise of 18 °F.", T)
add("quantities", "How much warmer is Madrid than Oslo today?", "Madrid is 15 °C warmer.", "Madrid is 27 °F warmer.", T)
add("quantities", "How much warmer is Madrid than Oslo today?", "Madrid is 15 °C warmer.", "Madrid is 59 °F warmer.", F)
add("quantities", "What is the temperature difference between day and night in the desert?", "20 °C", "36 °F", T)
add("quantities", "What is the temperature difference between day and night in the desert?", "20 °C", "68 °F", F)
add("quantities", "What is the boiling point of water at sea level?", "100 °C", "212 °F", T)
add("quantities", "How much has the average global temperature increased since 1900?", "An increase of 1.1 °C", "An increase of 1.98 °F", T)
add("quantities", "How much did the oven temperature drop?", "It dropped by 25 °C.", "It dropped by 45 °F.", T)
add("quantities", "How much did the oven temperature drop?", "It dropped by 25 °C.", "It dropped by 77 °F.", F)
add("quantities", "What is normal human body temperature?", "37 °C", "98.6 °F", T)
add("quantities", "What is the temperature change between the two readings?", "A change of 5 K", "A change of 5 °C", T)

# ---- code: whitespace as syntax, string literals ------------------------------------
add("code", "Write a Python function that returns the square of x.", "def square(x):\n    return x * x", "def square(x):\n  return x * x", T)
add("code", "Write a Python function f that returns 1 if x is truthy, else 0.", "def f(x):\n    if x:\n        return 1\n    return 0", "def f(x):\n    if x:\n        return 1\n        return 0", F)
add("code", "Print the string with two spaces in Python.", "```python\nprint('a  b')\n```", "```python\nprint('a b')\n```", F)
add("code", "How do I print hi in Python?", "```python\nprint('hi')\n```", "```python\nprint( 'hi' )\n```", T)
add("code", "Give the YAML for a server on port 8080 at localhost.", "server:\n  port: 8080\n  host: localhost", "server:\n  port: 8080\nhost: localhost", F)
add("code", "Give the YAML for a server on port 8080.", "server:\n  port: 8080", "server:\n    port: 8080", T)
add("code", "Declare a JavaScript constant x equal to 1.", "const x = 1;", "const x=1;", T)
add("code", "Declare a JavaScript string constant s holding 'a b'.", "const s = \"a b\";", "const s = \"a  b\";", F)
add("code", "What is the shell command to list all files including hidden ones?", "`ls -a`", "`ls -la`", F)
add("code", "What is the shell command to list all files including hidden ones?", "ls -a", "`ls -a`", T)
add("code", "Write Python that prints 0 to 2 and then done.", "for i in range(3):\n    print(i)\nprint('done')", "for i in range(3):\n    print(i)\n    print('done')", F)
add("code", "Create a Python list of 1, 2 and 3.", "x = [1, 2, 3]", "x = [1,2,3]", T)
add("code", "Create a Python list of 1, 2 and 3.", "x = [1, 2, 3]", "x = [1, 2, 4]", F)
add("code", "What regex matches one or more digits?", "`\\d+`", "`\\d*`", F)
add("code", "Write a Rust expression for an empty vector of u32.", "`Vec::<u32>::new()`", "`Vec::<u32>::with_capacity(0)`", T)
add("code", "Write the Python import for the JSON module.", "import json", "`import json`", T)
add("code", "Write a docker-compose service named web using nginx.", "services:\n  web:\n    image: nginx", "services:\n  web:\n  image: nginx", F)

# ---- SQL -----------------------------------------------------------------------------
add("sql", "Write a SQL query to count the users.", "SELECT COUNT(*) FROM users;", "select count(*) from users;", T)
add("sql", "Write a SQL query to count the users.", "SELECT COUNT(*) FROM users;", "SELECT COUNT(*)\nFROM users;", T)
add("sql", "Write a SQL query for the names of users in New York.", "SELECT name FROM users WHERE city = 'New York';", "SELECT name FROM users WHERE city = 'new york';", F)
add("sql", "Write a SQL query for the names of users in New York.", "SELECT name FROM users WHERE city = 'New York';", "SELECT name FROM users WHERE city = 'New  York';", F)
add("sql", "Write a SQL query for the names of users in New York.", "SELECT name FROM users WHERE city = 'New York';", "```sql\nSELECT name\nFROM users\nWHERE city = 'New York';\n```", T)
add("sql", "Find orders over 100.", "SELECT * FROM orders WHERE total > 100;", "SELECT * FROM orders WHERE total >= 100;", F)
add("sql", "Get the 10 most recent orders.", "SELECT * FROM orders ORDER BY created_at DESC LIMIT 10;", "SELECT * FROM orders ORDER BY created_at ASC LIMIT 10;", F)
add("sql", "Get the 10 most recent orders.", "SELECT * FROM orders ORDER BY created_at DESC LIMIT 10;", "select * from orders order by created_at desc limit 10", T)
add("sql", "Select ids where a is 1 and b is 2.", "SELECT id FROM t WHERE a = 1 AND b = 2", "SELECT id FROM t WHERE b = 2 AND a = 1", T)
add("sql", "Delete expired sessions.", "DELETE FROM sessions WHERE expires_at < NOW();", "delete from sessions where expires_at < now()", T)
add("sql", "Deactivate user 7.", "UPDATE users SET active = false WHERE id = 7;", "UPDATE users SET active = false WHERE id = 17;", F)
add("sql", "Average salary per department.", "SELECT department, AVG(salary) FROM employees GROUP BY department;", "SELECT department, AVG(salary) FROM employees GROUP BY department HAVING AVG(salary) > 50000;", F)
add("sql", "Names of users who placed an order.", "SELECT u.name FROM users u JOIN orders o ON o.user_id = u.id;", "SELECT u.name FROM users u LEFT JOIN orders o ON o.user_id = u.id;", F)
add("sql", "Names of users who placed an order.", "SELECT u.name FROM users u JOIN orders o ON o.user_id = u.id;", "SELECT u.name\n  FROM users u\n  JOIN orders o ON o.user_id = u.id;", T)

# ---- prompt words that name the alternatives ---------------------------------------
add("labels", "Did the company report a loss or income for the quarter?", "A loss.", "Income.", F)
add("labels", "Did the company report a loss or income for the quarter?", "The company reported a loss.", "A loss", T)
add("labels", "Which party won the election, Labour or the Conservatives?", "Labour", "The Conservatives won.", F)
add("labels", "Which party won the election, Labour or the Conservatives?", "Labour", "Labour won the election.", T)
add("labels", "Did the build pass or fail?", "It passed.", "It failed.", F)
add("labels", "Did the build pass or fail?", "passed", "The build passed.", T)
add("labels", "Was the motion carried or defeated?", "carried", "defeated", F)
add("labels", "Is the test result positive or negative?", "positive", "The result is negative.", F)
add("labels", "Which team scored more goals, the home team or the away team?", "The home team", "the away team", F)
add("labels", "Which team scored more goals, the home team or the away team?", "The home team.", "The home team scored more goals.", T)
add("labels", "Was the shipment delivered or returned?", "Delivered.", "It was returned.", F)
add("labels", "Who won the case, the plaintiff or the defendant?", "The plaintiff.", "The defendant won.", F)
add("labels", "Did revenue increase or decrease year over year?", "Increase", "It decreased.", F)
add("labels", "Did revenue increase or decrease year over year?", "It increased.", "Revenue increased year over year.", T)
add("labels", "Classify the ticket as billing, technical or account.", "technical", "Technical issue", T)
add("labels", "Classify the message as spam or ham.", "spam", "ham", F)
add("labels", "Is the review positive, negative or mixed?", "Mixed.", "The review is mixed.", T)
add("labels", "Did the patient's condition improve or worsen?", "It improved.", "The condition worsened.", F)

# ---- ordered lists -----------------------------------------------------------------
add("lists", "Sort these numbers in ascending order: 5, 2, 9, 1", "1, 2, 5, 9", "9, 5, 2, 1", F)
add("lists", "Sort these numbers in ascending order: 5, 2, 9, 1", "1, 2, 5, 9", "The sorted list is 1, 2, 5, 9.", T)
add("lists", "List the steps to make tea, in order.", "1. Boil water\n2. Add the tea bag\n3. Steep for three minutes", "1. Add the tea bag\n2. Boil water\n3. Steep for three minutes", F)
add("lists", "List the inner planets from the Sun outward.", "Mercury, Venus, Earth, Mars", "Mercury, Earth, Venus, Mars", F)
add("lists", "List the inner planets from the Sun outward.", "Mercury, Venus, Earth, Mars", "- Mercury\n- Venus\n- Earth\n- Mars", T)
add("lists", "Arrange the words alphabetically: pear, apple, fig", "apple, fig, pear", "apple, pear, fig", F)
add("lists", "Put these in descending order: 3, 10, 7", "10, 7, 3", "3, 7, 10", F)
add("lists", "List the first three US presidents in order.", "Washington, Adams, Jefferson", "Washington, Jefferson, Adams", F)
add("lists", "List the first three US presidents in order.", "George Washington, John Adams, Thomas Jefferson", "1. George Washington\n2. John Adams\n3. Thomas Jefferson", T)
add("lists", "Name the three primary colours.", "red, yellow, blue", "blue, red and yellow", T)
add("lists", "Which of these are prime: 4, 7, 9, 11?", "7 and 11", "11 and 7", T)
add("lists", "Which ingredients does the recipe need?", "flour, sugar, eggs", "eggs, flour, sugar", T)
add("lists", "What happened in the incident, from first to last?", "disk filled, database crashed, site went down", "site went down, database crashed, disk filled", F)
add("lists", "Rank the runners by finishing position.", "1. Kim\n2. Ola\n3. Raj", "1. Kim\n2. Raj\n3. Ola", F)

# ---- role swaps ----------------------------------------------------------------------
add("role_swaps", "Who won the final?", "Spain beat Italy.", "Italy beat Spain.", F)
add("role_swaps", "Who won the final?", "Spain defeated Italy.", "Spain beat Italy.", T)
add("role_swaps", "Who acquired whom?", "Microsoft acquired GitHub.", "GitHub acquired Microsoft.", F)
add("role_swaps", "Who sued whom?", "Apple sued Samsung.", "Samsung sued Apple.", F)
add("role_swaps", "Who paid whom?", "Alice paid Bob $50.", "Bob paid Alice $50.", F)
add("role_swaps", "Which company supplies which?", "Foxconn supplies Apple.", "Apple supplies Foxconn.", F)
add("role_swaps", "Who reports to whom?", "Dana reports to Lee.", "Lee reports to Dana.", F)
add("role_swaps", "Who sent the email?", "Maria sent the email to John.", "John sent the email to Maria.", F)
add("role_swaps", "Who beat whom?", "The Lakers beat the Celtics.", "The Celtics lost to the Lakers.", T)
add("role_swaps", "Who beat whom?", "The Lakers beat the Celtics.", "The Celtics beat the Lakers.", F)
add("role_swaps", "Who interviewed whom?", "Oprah interviewed Obama.", "Obama was interviewed by Oprah.", T)
add("role_swaps", "Who won the match?", "Nadal defeated Federer in the final.", "Federer defeated Nadal in the final.", F)
add("role_swaps", "Who owes money to whom?", "The tenant owes the landlord $1,200.", "The landlord owes the tenant $1,200.", F)

# ---- comparatives --------------------------------------------------------------------
add("comparatives", "Which is larger, Jupiter or Saturn?", "Jupiter is larger than Saturn.", "Saturn is smaller than Jupiter.", T)
add("comparatives", "Which is larger, Jupiter or Saturn?", "Jupiter is larger than Saturn.", "Jupiter is smaller than Saturn.", F)
add("comparatives", "Which is larger, Jupiter or Saturn?", "Jupiter is larger than Saturn.", "Saturn is larger than Jupiter.", F)
add("comparatives", "Which city is older, Rome or Paris?", "Rome is older than Paris.", "Paris is younger than Rome.", T)
add("comparatives", "Which city is older, Rome or Paris?", "Rome is older than Paris.", "Paris is older than Rome.", F)
add("comparatives", "How do the two plans compare on price?", "Plan A is cheaper than plan B.", "Plan B is more expensive than plan A.", T)
add("comparatives", "How do the two plans compare on price?", "Plan A is cheaper than plan B.", "Plan A is more expensive than plan B.", F)
add("comparatives", "Which was faster, the train or the bus?", "The train was faster than the bus.", "The bus was slower than the train.", T)
add("comparatives", "Which was faster, the train or the bus?", "The train was faster than the bus.", "The bus was faster than the train.", F)
add("comparatives", "Is Everest taller than K2?", "Everest is taller than K2.", "K2 is shorter than Everest.", T)
add("comparatives", "Which service has more users?", "Service X has more users than service Y.", "Service Y has fewer users than service X.", T)
add("comparatives", "Which service has more users?", "Service X has more users than service Y.", "Service X has fewer users than service Y.", F)
add("comparatives", "Which box is heavier, the red one or the blue one?", "The red box is heavier than the blue box.", "The blue box is lighter than the red box.", T)
add("comparatives", "Which box is heavier, the red one or the blue one?", "The red box is heavier than the blue box.", "The blue box is heavier than the red box.", F)

# ---- other languages ---------------------------------------------------------------
add("multilingual", "What is the capital of France?", "Paris", "La capitale de la France est Paris.", T)
add("multilingual", "How many days are in a week?", "7", "Una semana tiene 7 días.", T)
add("multilingual", "How many days are in a week?", "7", "Una semana tiene 8 días.", F)
add("multilingual", "Is Madrid the capital of Spain?", "Yes", "Sí, lo es.", T)
add("multilingual", "What year did the Berlin Wall fall?", "1989", "Die Mauer fiel 1989.", T)
add("multilingual", "What year did the Berlin Wall fall?", "1989", "Die Mauer fiel 1991.", F)
add("multilingual", "At what temperature does water boil at sea level, in °C?", "100", "L'eau bout à 100 °C.", T)
add("multilingual", "Who painted the Mona Lisa?", "Leonardo da Vinci", "Leonardo da Vinci dipinse la Gioconda.", T)
add("multilingual", "Who painted the Mona Lisa?", "Leonardo da Vinci", "La Gioconda fu dipinta da Raffaello.", F)

# ---- free-text paraphrases -----------------------------------------------------------
add("free_text", "Why is the sky blue?", "Rayleigh scattering: shorter blue wavelengths scatter more in the atmosphere.", "Because air molecules scatter blue light more than red light (Rayleigh scattering).", T)
add("free_text", "What does HTTP stand for?", "Hypertext Transfer Protocol", "HyperText Transfer Protocol.", T)
add("free_text", "What does HTTP stand for?", "Hypertext Transfer Protocol", "Hypertext Transport Protocol", F)
add("free_text", "Summarise the status of the project.", "The project is on schedule and under budget.", "The project is behind schedule and over budget.", F)
add("free_text", "Summarise the status of the project.", "The project is on schedule and under budget.", "The project is on track and under budget.", T)
add("free_text", "What caused the outage?", "An expired TLS certificate caused the outage.", "The outage was caused by an expired TLS certificate.", T)
add("free_text", "What caused the outage?", "An expired TLS certificate caused the outage.", "A misconfigured load balancer caused the outage.", F)
add("free_text", "Who wrote Pride and Prejudice?", "Jane Austen", "It was written by Jane Austen.", T)
add("free_text", "Who wrote Pride and Prejudice?", "Jane Austen", "Charlotte Brontë", F)
add("free_text", "What is the main risk of the plan?", "The main risk is vendor lock-in.", "Vendor lock-in is the biggest risk.", T)
add("free_text", "Describe the result of the experiment.", "The treatment had no significant effect.", "The treatment had a significant effect.", F)
add("free_text", "What did the meeting decide?", "The meeting decided to postpone the launch.", "They agreed to delay the launch.", T)
add("free_text", "What did the meeting decide?", "The meeting decided to postpone the launch.", "They agreed to cancel the launch.", F)
add("free_text", "What is the function of mitochondria?", "They produce most of the cell's ATP.", "Mitochondria generate most of the cell's energy in the form of ATP.", T)
add("free_text", "Summarise the client's email.", "The client accepts the quote but wants delivery by Friday.", "The client rejects the quote.", F)
add("free_text", "Who is the current CEO according to the article?", "Sarah Chen", "Sarah Chen is the CEO.", T)

# ---- long answers --------------------------------------------------------------------
LONG = ("The migration moved 14 services to the new cluster over three weekends. Two services, "
        "billing and search, needed schema changes first, and search was rolled back once after "
        "a latency regression. Total downtime was 18 minutes, all of it during the second weekend. "
        "The old cluster will be decommissioned on 2025-03-31.")
add("long", "Summarise the migration report.", LONG, LONG.replace("18 minutes", "81 minutes"), F)
add("long", "Summarise the migration report.", LONG, LONG.replace(". ", ".\n"), T)
add("long", "Summarise the migration report.", LONG, LONG.replace("search was rolled back", "search was not rolled back"), F)
add("long", "Summarise the migration report.", LONG, LONG.replace("2025-03-31", "March 31, 2025"), T)
add("long", "Summarise the migration report.", LONG, LONG.replace("billing and search", "billing and auth"), F)
add("long", "Summarise the migration report.", LONG,
    "Over three weekends, 14 services moved to the new cluster. Billing and search required schema "
    "changes beforehand; search was rolled back once because latency regressed. Downtime totalled "
    "18 minutes, all on the second weekend, and the old cluster is to be decommissioned on March 31, 2025.", T)
LONG2 = ("To reset your password, open Settings, choose Security, and click Reset password. "
         "You will receive an email with a link that expires after 24 hours. If the email does "
         "not arrive, check your spam folder before contacting support.")
add("long", "How do I reset my password?", LONG2, LONG2.replace("24 hours", "48 hours"), F)
add("long", "How do I reset my password?", LONG2, LONG2.replace("24 hours", "one day"), T)
add("long", "How do I reset my password?", LONG2, LONG2.replace("choose Security", "choose Privacy"), F)

# ---- yes/no, dates, JSON, plain numbers ------------------------------------------------
add("yes_no", "Is 91 a prime number?", "No, 91 = 7 × 13.", "No.", T)
add("yes_no", "Is 97 a prime number?", "Yes", "Yes, 97 is prime.", T)
add("yes_no", "Is 97 a prime number?", "Yes", "No, 97 is divisible by 7.", F)
add("yes_no", "Does the contract allow early termination?", "Yes, with 30 days' notice.", "No, early termination is not allowed.", F)
add("yes_no", "Does the contract allow early termination?", "Yes, with 30 days' notice.", "Yes, with 60 days' notice.", F)
add("dates", "When was the Treaty of Versailles signed?", "June 28, 1919", "28/06/1919", T)
add("dates", "When was the Treaty of Versailles signed?", "June 28, 1919", "1919-06-29", F)
add("datetimes", "When is the meeting?", "2025-04-02 at 3 pm UTC", "2025-04-02 15:00 UTC", T)
add("datetimes", "When is the meeting?", "2025-04-02 15:00 UTC", "2025-04-02 15:00 CET", F)
add("json", "Return the person as JSON.", "{\"name\": \"Ada\", \"age\": 36}", "{\"age\": 36, \"name\": \"Ada\"}", T)
add("json", "Return the record as JSON.", "{\"id\": \"007\"}", "{\"id\": \"7\"}", F)
add("json", "Return the record as JSON.", "{\"id\": 12345678901234567890}", "{\"id\": 12345678901234567891}", F)
add("json", "Return the record as JSON.", "{\"version\": \"1.10\"}", "{\"version\": \"1.1\"}", F)
add("numbers", "How many moons does Mars have?", "2", "Mars has two moons.", T)
add("numbers", "How many moons does Mars have?", "2", "Mars has three moons.", F)
add("numbers", "How many legs does a spider have?", "8", "eight", T)
add("numbers", "What is 15% of 80?", "12", "12.0", T)
add("numbers", "What is 15% of 80?", "12", "1.2", F)

if __name__ == "__main__":
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "heldout-2.jsonl"), "w", encoding="utf-8") as f:
        for p in P:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(len(P), "pairs", counts)
