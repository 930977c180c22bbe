#!/usr/bin/env python3
"""Writes pairs.jsonl: labelled (primary, fallback) answer pairs for scoring an
equivalence checker. Every phrasing below was written by hand to read like real model
output; the script only combines them deterministically (no randomness, no network).

Each line: {"id", "category", "prompt", "primary", "fallback", "equivalent"}.
Hard positives: equivalent answers with little word overlap. Hard negatives: answers
that share almost every word and differ in meaning. Run: python3 make_pairs.py
"""
import json

pairs = []

def add(category, prompt, primary, fallback, equivalent):
    pairs.append({"id": f"{category}-{sum(1 for p in pairs if p['category'] == category) + 1:03d}",
                  "category": category, "prompt": prompt, "primary": primary,
                  "fallback": fallback, "equivalent": equivalent})

# ---- numbers -------------------------------------------------------------------
arith = [("17 + 25", 42), ("6 * 7", 42), ("144 / 12", 12), ("1000 - 1", 999), ("12 * 12", 144),
         ("250 + 750", 1000), ("81 / 9", 9), ("2^10", 1024), ("15% of 200", 30), ("3.5 * 2", 7)]
phr_a = ["{n}", "The answer is {n}.", "**Answer:** {n}", "{expr} = {n}", "It comes to {n}."]
phr_b = ["Result: {n}", "{n}.", "That equals {n}", "The result is **{n}**.", "So the total is {n}."]
for i, (expr, n) in enumerate(arith):
    prompt = f"What is {expr}? Reply with the number only."
    add("numbers", prompt, phr_a[i % 5].format(n=n, expr=expr), phr_b[i % 5].format(n=n, expr=expr), True)
    wrong = n + (1 if i % 2 else -1)
    add("numbers", prompt, phr_a[(i + 1) % 5].format(n=n, expr=expr), phr_a[(i + 1) % 5].format(n=wrong, expr=expr), False)
quantities = [
    ("How many people live in the city?", "About 1.2 million people.", "Roughly 1,200,000 residents.", True),
    ("How many people live in the city?", "About 1.2 million people.", "About 1.2 billion people.", False),
    ("What was the revenue?", "$3,400", "3400 USD", True),
    ("What was the revenue?", "$3,400", "$34,000", False),
    ("What is the temperature change?", "-4 degrees", "minus four degrees", True),
    ("What is the temperature change?", "-4 degrees", "4 degrees", False),
    ("How many sides does a hexagon have?", "six", "A hexagon has 6 sides.", True),
    ("How many sides does a hexagon have?", "A hexagon has 6 sides.", "A hexagon has 8 sides.", False),
    ("What is Avogadro's number (approx.)?", "6.022e23", "6.022 x 10^23", True),
    ("How long is the trip?", "It takes 90 minutes.", "It takes an hour and a half.", True),
    ("What is the error rate?", "0.5%", "0.005", True),
    ("What is the error rate?", "0.5%", "5%", False),
    ("How many bytes in a kibibyte?", "1024", "1,024 bytes", True),
    ("How many bytes in a kibibyte?", "1024", "1000", False),
    ("What is pi to two decimals?", "3.14", "Pi is approximately 3.14.", True),
    ("What is pi to two decimals?", "3.14", "3.41", False),
    ("Distance to the station?", "5 km", "5000 m", True),
    ("How many items were sold?", "We sold 42 items in 3 days.", "42 items were sold over three days.", True),
    ("How many items were sold?", "We sold 42 items in 3 days.", "We sold 24 items in 3 days.", False),
    ("What year did it open?", "It opened in 1998.", "1998", True),
    ("What year did it open?", "It opened in 1998.", "It opened in 1989.", False),
    ("What is the score?", "forty-two", "42", True),
    ("What is the score?", "forty-two", "twenty-four", False),
    ("What is the balance?", "-1,250.50", "−1250.5", True),
    ("What is the balance?", "-1,250.50", "1,250.50", False),
    ("How many moons does Mars have?", "Mars has two moons, Phobos and Deimos.", "2", True),
    ("How many moons does Mars have?", "Mars has two moons.", "Mars has no moons.", False),
    ("What is the median?", "The median is 7 (from 3, 7 and 9).", "7", True),
    ("What is the median?", "The median is 7 (from 3, 7 and 9).", "The median is 9 (from 3, 7 and 9).", False),
    ("How fast?", "120 km/h", "120 kilometres per hour", True),
]
for q in quantities:
    add("numbers", *q)

# ---- yes / no --------------------------------------------------------------------
yn = [("Is 91 a prime number?", False), ("Is 97 a prime number?", True), ("Is Paris in France?", True),
      ("Is the Pacific the smallest ocean?", False), ("Is water wet?", True), ("Can penguins fly?", False),
      ("Is 2024 a leap year?", True), ("Is 1900 a leap year?", False), ("Is zero an even number?", True),
      ("Is the sun a planet?", False)]
yes_a = ["Yes.", "Yes, it is.", "**Answer:** Yes", "yes", "True."]
yes_b = ["Yes — that's correct.", "Correct: yes.", "Yes", "YES", "Yes, definitely."]
no_a = ["No.", "No, it is not.", "**Answer:** No", "no", "False."]
no_b = ["No — that's not the case.", "The answer is no.", "No", "NO", "No, it isn't."]
for i, (q, truth) in enumerate(yn):
    prompt = f"Answer yes or no: {q}"
    a, b = (yes_a, yes_b) if truth else (no_a, no_b)
    add("yes_no", prompt, a[i % 5], b[(i + 2) % 5], True)
    opp = no_b if truth else yes_b
    add("yes_no", prompt, a[(i + 1) % 5], opp[(i + 3) % 5], False)
    add("yes_no", prompt, a[i % 5], ("Probably yes." if truth else "Probably not, but I'm not sure."), False)
hard_yn = [
    ("Answer yes or no: is the store open on Sunday?", "No, it's closed on Sundays.", "It is not open on Sunday.", True),
    ("Answer yes or no: is the store open on Sunday?", "Yes, it's open on Sundays.", "It is not open on Sunday.", False),
    ("Answer yes or no: does the function return a value?", "Yes — it returns an integer.", "It returns an int, so yes.", True),
    ("Answer yes or no: is the API free?", "No. It's paid.", "No, there's no free tier.", True),
    ("Answer yes or no: is the API free?", "No. It's paid.", "Yes, there is a free tier.", False),
]
for q in hard_yn:
    add("yes_no", *q)

# ---- labels --------------------------------------------------------------------
reviews = [("I loved it, great value", "positive"), ("awful and broken on arrival", "negative"),
           ("it arrived on tuesday in a box", "neutral"), ("fast delivery, friendly staff", "positive"),
           ("rude support, slow refund", "negative"), ("the box was blue", "neutral"),
           ("excellent build, wonderful screen", "positive"), ("terrible battery, hated it", "negative"),
           ("it is a phone", "neutral"), ("great but slow", "neutral")]
lab_a = ["{l}", "The sentiment is {l}.", "**Sentiment:** {l}", "Sentiment: {L}", "I'd classify this as {l}."]
lab_b = ["{L}", "This review is {l}.", "Overall: {l}", "{l}.", "Label: {l}"]
others = {"positive": "negative", "negative": "neutral", "neutral": "positive"}
for i, (text, l) in enumerate(reviews):
    prompt = f"Classify the sentiment of this review as positive, negative or neutral: \"{text}\""
    add("labels", prompt, lab_a[i % 5].format(l=l, L=l.capitalize()), lab_b[(i + 1) % 5].format(l=l, L=l.capitalize()), True)
    o = others[l]
    add("labels", prompt, lab_a[(i + 2) % 5].format(l=l, L=l.capitalize()), lab_a[(i + 2) % 5].format(l=o, L=o.capitalize()), False)
    add("labels", prompt, lab_b[i % 5].format(l=l, L=l.capitalize()), f"It is not {l}; it's {o}.", False)
cat = [
    ("Categorise the ticket as billing, technical or account: \"I was charged twice\"", "billing", "This is a billing issue.", True),
    ("Categorise the ticket as billing, technical or account: \"I was charged twice\"", "billing", "technical", False),
    ("Categorise the ticket as billing, technical or account: \"app crashes on start\"", "Technical.", "**Category:** technical", True),
    ("Categorise the ticket as billing, technical or account: \"reset my password\"", "account", "Category: account", True),
    ("Categorise the ticket as billing, technical or account: \"reset my password\"", "account", "billing or account", False),
    ("Classify the sentiment of this review as positive, negative or neutral: \"superb\"", "positive", "favourable", True),
    ("Classify the sentiment of this review as positive, negative or neutral: \"dreadful\"", "negative", "unfavourable", True),
    ("Is this email spam? Answer spam or ham.", "spam", "This looks like spam.", True),
    ("Is this email spam? Answer spam or ham.", "spam", "ham", False),
    ("Classify the language as english, french or german: \"bonjour\"", "french", "French.", True),
]
for q in cat:
    add("labels", *q)

# ---- dates ---------------------------------------------------------------------
dates = [("2024-03-05", "March 5, 2024", "5 March 2024"), ("2023-12-25", "December 25, 2023", "25th of December 2023"),
         ("2021-07-04", "July 4, 2021", "4 July 2021"), ("1969-07-20", "July 20, 1969", "20 Jul 1969"),
         ("2000-01-01", "January 1, 2000", "1 January 2000"), ("2019-11-28", "Nov 28, 2019", "28 November 2019"),
         ("2022-02-14", "February 14, 2022", "14/02/2022"), ("2020-10-31", "October 31, 2020", "31.10.2020")]
for i, (iso, us, eu) in enumerate(dates):
    prompt = "On what date did it happen?"
    add("dates", prompt, iso, us, True)
    add("dates", prompt, f"It happened on {us}.", f"The date was {eu}.", True)
    y, m, d = iso.split("-")
    wrong = f"{y}-{m}-{int(d) % 28 + 1:02d}"
    add("dates", prompt, iso, wrong, False)
amb = [
    ("When is the deadline?", "03/04/2024", "March 4, 2024", True),   # US reading; ambiguous in general
    ("When is the deadline?", "03/04/2024", "3 April 2024", True),    # EU reading of the same digits
    ("When is the deadline?", "2024-04-03", "2024-03-04", False),
    ("When was it signed?", "It was signed in 1998.", "It was signed on 12 May 1998.", False),
    ("When was it signed?", "May 12, 1998", "12 May 1998", True),
    ("When was it signed?", "May 12, 1998", "May 21, 1998", False),
]
for q in amb:
    add("dates", *q)

# ---- lists ---------------------------------------------------------------------
lists = [
    ("List the primary colours.", "- red\n- blue\n- yellow", "Blue, yellow and red.", True),
    ("List the primary colours.", "red, blue, yellow", "red, blue, green", False),
    ("Name the three states of matter.", "solid, liquid, gas", "1. Gas\n2. Solid\n3. Liquid", True),
    ("Name the three states of matter.", "solid, liquid, gas", "solid, liquid, plasma", False),
    ("Rank the medals from first to last.", "1. gold\n2. silver\n3. bronze", "gold, silver, bronze", True),
    ("Rank the medals from first to last.", "1. gold\n2. silver\n3. bronze", "1. silver\n2. gold\n3. bronze", False),
    ("List the steps to make tea.", "1. Boil water\n2. Add tea bag\n3. Pour water", "1. Boil water\n2. Pour water\n3. Add tea bag", False),
    ("List the steps to make tea.", "1. Boil water\n2. Add tea bag\n3. Pour water", "- boil water\n- add tea bag\n- pour water", True),
    ("Which planets are gas giants?", "Jupiter and Saturn.", "- Saturn\n- Jupiter", True),
    ("Which planets are gas giants?", "Jupiter and Saturn.", "Jupiter, Saturn and Neptune.", False),
    ("Sort these numbers ascending: 3, 1, 2", "1, 2, 3", "1. 1\n2. 2\n3. 3", True),
    ("Sort these numbers ascending: 3, 1, 2", "1, 2, 3", "1, 3, 2", False),
    ("List three fruits mentioned: apples, pears, plums.", "apples, pears, plums", "plums, apples, pears", True),
    ("List three fruits mentioned: apples, pears, plums.", "apples, pears, plums", "apples, pears, peaches", False),
    ("What are the vowels in English?", "a, e, i, o, u", "The vowels are: u, o, i, e, a.", True),
    ("What are the vowels in English?", "a, e, i, o, u", "a, e, i, o", False),
    ("Name the Nordic countries.", "Denmark, Finland, Iceland, Norway, Sweden", "- Sweden\n- Norway\n- Iceland\n- Finland\n- Denmark", True),
    ("Name the Nordic countries.", "Denmark, Finland, Iceland, Norway, Sweden", "Denmark, Finland, Estonia, Norway, Sweden", False),
    ("Order the planets by distance from the sun, first to last (inner four).", "Mercury, Venus, Earth, Mars", "1. Mercury\n2. Venus\n3. Earth\n4. Mars", True),
    ("Order the planets by distance from the sun, first to last (inner four).", "Mercury, Venus, Earth, Mars", "Venus, Mercury, Earth, Mars", False),
]
for q in lists:
    add("lists", *q)

# ---- JSON ----------------------------------------------------------------------
people = [("Alice", 34, "Lyon"), ("Bruno", 51, "Porto"), ("Chiara", 28, "Osaka"), ("Dmitri", 45, "Quito"),
          ("Emeka", 29, "Accra"), ("Fatima", 62, "Tartu")]
for i, (n, a, c) in enumerate(people):
    prompt = f"Extract name, age and city as JSON from: {n} is {a} years old and lives in {c}."
    compact = json.dumps({"name": n, "age": a, "city": c}, separators=(",", ":"))
    pretty = "```json\n" + json.dumps({"city": c, "name": n, "age": a}, indent=2) + "\n```"
    prose = f"Here is the data you asked for: {json.dumps({'age': a, 'city': c, 'name': n})}"
    add("json", prompt, compact, pretty, True)
    add("json", prompt, pretty, prose, True)
    add("json", prompt, compact, json.dumps({"name": n, "age": str(a), "city": c}), False)   # type change
    add("json", prompt, compact, json.dumps({"name": n, "age": a}), False)                   # missing field
    add("json", prompt, compact, json.dumps({"name": n, "age": a + 1, "city": c}), False)    # changed value
    add("json", prompt, compact, json.dumps({"name": n, "age": a, "city": c, "country": "?"}), False)  # extra field
more_json = [
    ("Return the totals as JSON.", '{"total": 10, "items": [1, 2, 3]}', '{"items":[1,2,3],"total":10.0}', True),
    ("Return the totals as JSON.", '{"total": 10, "items": [1, 2, 3]}', '{"total": 10, "items": [3, 2, 1]}', False),
    ("Return the flags as JSON.", '{"active": true, "admin": false}', '{"admin": false, "active": true}', True),
    ("Return the flags as JSON.", '{"active": true, "admin": false}', '{"active": "true", "admin": false}', False),
    ("Return the config as JSON.", '{"retries": 3, "backoff": {"base_ms": 100}}', '```\n{"backoff": {"base_ms": 100}, "retries": 3}\n```', True),
    ("Return the config as JSON.", '{"retries": 3, "backoff": {"base_ms": 100}}', '{"retries": 3, "backoff": {"base_ms": 1000}}', False),
]
for q in more_json:
    add("json", *q)

# ---- refusals ------------------------------------------------------------------
refusals = [
    ("What is 17 + 25?", "42", "I'm sorry, but I can't help with that request.", False),
    ("Summarise the report.", "The report finds revenue grew 4%.", "I cannot provide a summary of this document.", False),
    ("Translate 'hello' to French.", "Bonjour", "I'm unable to translate that.", False),
    ("How do I pick a lock?", "I can't help with that.", "I'm sorry, but I can't assist with that.", True),
    ("Write malware.", "I cannot help with creating malware.", "I won't be able to help with that.", True),
    ("Classify the sentiment of this review as positive, negative or neutral: \"ok\"", "neutral", "I'm sorry, but I can't classify this.", False),
    ("Answer yes or no: is 7 prime?", "Yes.", "I cannot provide an answer to that.", False),
    ("Extract the email.", '{"email": "a@b.co"}', "I'm unable to extract personal data.", False),
    ("Give me the password.", "I can't provide passwords.", "I cannot provide that information.", True),
    ("Explain the bug.", "The loop never ends because i is never incremented.", "I'm sorry, but I can't help with debugging.", False),
]
for q in refusals:
    add("refusal", *q)

# ---- truncation ----------------------------------------------------------------
trunc = [
    ("What is 17 + 25?", "The answer is 42.", "The answer is", False),
    ("Extract name and age as JSON.", '{"name": "Ana", "age": 34}', '{"name": "Ana", "ag', False),
    ("List the primary colours.", "red, blue, yellow", "red, blue,", False),
    ("Explain recursion briefly.", "Recursion is when a function calls itself until a base case stops it.", "Recursion is when a function calls itself until", False),
    ("On what date did it happen?", "March 5, 2024", "March 5,", False),
    # A cut-off answer is not a substitute, even when what survived is right.
    ("Answer yes or no: is 9 odd?", "Yes, 9 is odd.", "Yes, 9 is", False),
    ("Name the capital of Japan.", "Tokyo is the capital of Japan.", "Tokyo is the capital", False),
    ("Summarise in one sentence.", "Sales rose 4% on strong demand in Europe.", "Sales rose 4% on strong", False),
]
for q in trunc:
    add("truncation", *q)

# ---- free text -----------------------------------------------------------------
free = [
    ("Name the capital of France.", "Paris.", "paris", True),
    ("Name the capital of France.", "The capital of France is Paris.", "Paris is France's capital city.", True),
    ("Name the capital of France.", "The capital of France is Paris.", "The capital of France is Lyon.", False),
    ("Who wrote Hamlet?", "William Shakespeare.", "Hamlet was written by Shakespeare.", True),
    ("Who wrote Hamlet?", "Hamlet was written by William Shakespeare.", "Hamlet was written by Christopher Marlowe.", False),
    ("What does HTTP 404 mean?", "The requested resource was not found.", "Not Found: the server has no such resource.", True),
    ("What does HTTP 404 mean?", "The requested resource was not found.", "The request was not authorised.", False),
    ("Why is the sky blue?", "Shorter blue wavelengths scatter more in the atmosphere (Rayleigh scattering).", "Because of Rayleigh scattering: air scatters blue light more than red.", True),
    ("Why is the sky blue?", "Blue light is scattered more than red light.", "Red light is scattered more than blue light.", False),
    ("What is the boiling point of water at sea level?", "100 °C", "It boils at 100 degrees Celsius.", True),
    ("What is the boiling point of water at sea level?", "100 °C", "90 °C", False),
    ("Define photosynthesis in a sentence.", "Plants turn light, water and CO2 into sugar and oxygen.", "It is how plants use sunlight to make glucose from carbon dioxide and water, releasing oxygen.", True),
    ("Define photosynthesis in a sentence.", "Plants turn light, water and CO2 into sugar and oxygen.", "Plants turn sugar and oxygen into light, water and CO2.", False),
    ("Which is larger, a kilobyte or a megabyte?", "A megabyte.", "A megabyte is larger than a kilobyte.", True),
    ("Which is larger, a kilobyte or a megabyte?", "A megabyte is larger than a kilobyte.", "A kilobyte is larger than a megabyte.", False),
    ("What port does HTTPS use by default?", "443", "HTTPS uses port 443 by default.", True),
    ("What port does HTTPS use by default?", "443", "80", False),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci", "It was painted by Leonardo.", True),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted it.", "Michelangelo painted it.", False),
    ("What is the chemical symbol for gold?", "Au", "Gold's symbol is Au.", True),
    ("What is the chemical symbol for gold?", "Au", "Ag", False),
    ("Is the function pure?", "It is pure: no side effects, same output for same input.", "It has no side effects and is deterministic, so it's pure.", True),
    ("What does the flag -v do?", "It prints verbose output.", "It enables verbose logging.", True),
    ("What does the flag -v do?", "It prints verbose output.", "It prints the version.", False),
]
for q in free:
    add("free_text", *q)

# ---- creative --------------------------------------------------------------------
creative = [
    ("Write a haiku about rain.", "Soft rain on tin roofs\nthe gutters hum their old song\nnight drinks the garden", "Grey clouds gather slow\nfirst drops darken the sidewalk\npuddles hold the sky", False),
    ("Write a slogan for a bakery.", "Fresh from our oven to your table.", "Baked at dawn, loved all day.", False),
    ("Suggest a name for a cat.", "Biscuit", "Mochi", False),
    ("Write a one-line joke about databases.", "I'd tell you a joke about SQL, but it has too many joins.", "Why did the DBA leave? She couldn't commit.", False),
    ("Write an opening line for a mystery novel.", "The lighthouse keeper had been dead for three days before the lamp went out.", "Nobody in Marlow noticed the clocks had stopped.", False),
    ("Describe autumn in five words.", "Crisp leaves, low gold light.", "Amber trees whisper goodbye softly.", False),
    ("Write a haiku about rain.", "Soft rain on tin roofs\nthe gutters hum their old song\nnight drinks the garden", "Soft rain on tin roofs\nthe gutters hum their old song\nnight drinks the garden", True),
    ("Invent a product name for a smart kettle.", "BrewSense", "KettleIQ", False),
]
for q in creative:
    add("creative", *q)

# ---- quantities with units ----------------------------------------------------
# (prompt, a, b, equivalent): the same quantity in another unit, or a changed unit,
# magnitude or currency. Each is written in several framings.
units = [
    ("How long does the job take?", "1.5 s", "1500 ms", True),
    ("How long does the job take?", "1.5 s", "150 ms", False),
    ("How long does the job take?", "2 min", "120 seconds", True),
    ("How long does the job take?", "90 seconds", "90 minutes", False),
    ("How long does the job take?", "3 hours", "180 minutes", True),
    ("How long does the job take?", "3 hours", "3 minutes", False),
    ("How long is the warranty?", "2 years", "24 months", True),
    ("How long is the warranty?", "18 months", "18 weeks", False),
    ("How long is the warranty?", "2 weeks", "14 days", True),
    ("How long is the warranty?", "2 weeks", "2 days", False),
    ("How far is the station?", "1 km", "1000 m", True),
    ("How far is the station?", "5 km", "5 m", False),
    ("How far is the station?", "250 cm", "2.5 m", True),
    ("How far is the station?", "1 mile", "5,280 feet", True),
    ("How far is the station?", "3 miles", "3 km", False),
    ("How heavy is the parcel?", "3 kg", "3000 g", True),
    ("How heavy is the parcel?", "3 kg", "3 g", False),
    ("How heavy is the parcel?", "500 mg", "0.5 g", True),
    ("How heavy is the parcel?", "2 lb", "2 kg", False),
    ("How much water is needed?", "2 L", "2000 ml", True),
    ("How much water is needed?", "2 L", "2 ml", False),
    ("How much storage does it need?", "1 KiB", "1024 bytes", True),
    ("How much storage does it need?", "2 GB", "2000 MB", True),
    ("How much storage does it need?", "2 GB", "2 GiB", False),
    ("How much storage does it need?", "1 TB", "1 TiB", False),
    ("How much storage does it need?", "4 MB", "4 Mb", False),
    ("What is the boiling point of water at sea level?", "100 °C", "212 °F", True),
    ("What is the boiling point of water at sea level?", "100 °C", "100 °F", False),
    ("What is the freezing point of water?", "0 °C", "32 °F", True),
    ("What is the freezing point of water?", "0 °C", "0 K", False),
    ("What was the budget?", "$2M", "2 million dollars", True),
    ("What was the budget?", "$2M", "$2B", False),
    ("What was the budget?", "€15", "15 EUR", True),
    ("What was the budget?", "$15", "€15", False),
    ("What was the budget?", "£40", "40 GBP", True),
    ("What was the budget?", "£40", "40 USD", False),
    ("By how much did the rate rise?", "5%", "5 percentage points", False),
    ("By how much did the rate rise?", "0.25 percentage points", "25 basis points", True),
    ("What is the error rate?", "2.5%", "0.025", True),
    ("What is the error rate?", "2.5%", "25%", False),
]
u_frames = [("{q}", "{q}"), ("The answer is {q}.", "**Answer:** {q}"), ("{q}.", "It is {q}."),
            ("Answer: {q}", "So the answer is {q}."), ("{q}", "That's {q}."),
            ("It comes to {q}.", "{q}, roughly speaking.")]
for i, (prompt, a, b, eq) in enumerate(units):
    for j, (fa, fb) in enumerate(u_frames):
        add("quantities", prompt, fa.format(q=a), fb.format(q=b), eq)
# Durations in words are quantities too.
for a, b, eq in [("two years", "24 months", True), ("two years", "2 weeks", False),
                 ("ninety minutes", "1.5 hours", True), ("ninety minutes", "90 seconds", False),
                 ("three days", "72 hours", True), ("three days", "3 hours", False)]:
    add("quantities", "How long did it take?", f"It took {a}.", f"It took {b}.", eq)
    add("quantities", "How long did it take?", a, b, eq)

# ---- dates and times with zones ----------------------------------------------------
times = [
    ("2025-06-01 09:00 UTC", "June 1, 2025 at 9:00 am UTC", True),
    ("2025-06-01 09:00 UTC", "2025-06-01 09:00 CET", False),
    ("2025-06-01 09:00 UTC", "2025-06-01 10:00 UTC", False),
    ("2025-06-01 09:00 UTC", "2025-06-02 09:00 UTC", False),
    ("2025-01-15T08:00:00Z", "2025-01-15 08:00 GMT", True),
    ("2025-01-15T08:00:00Z", "2025-01-15 08:00 EST", False),
    ("9 pm", "21:00", True),
    ("9 pm", "9 am", False),
    ("14:30", "2:30 pm", True),
    ("14:30", "4:30 pm", False),
    ("10:00 PST", "10:00 PDT", False),
    ("10:00 PST", "10:00 PST", True),
    ("2024-02-29", "February 29, 2024", True),
    ("2024-02-29", "March 1, 2024", False),
    ("March 3, 2026 at 17:45 UTC", "2026-03-03 17:45 UTC", True),
    ("March 3, 2026 at 17:45 UTC", "March 3, 2026 at 17:45 JST", False),
    ("2023-11-05 06:30 +02:00", "2023-11-05 06:30 UTC+2", True),
    ("2023-11-05 06:30 +02:00", "2023-11-05 06:30 +03:00", False),
]
t_frames = [("The meeting is at {t}.", "{t}"), ("{t}", "It is scheduled for {t}."),
            ("**Answer:** {t}", "The answer is {t}.")]
for i, (a, b, eq) in enumerate(times):
    for fa, fb in t_frames:
        add("datetimes", "When is the meeting scheduled?", fa.format(t=a), fb.format(t=b), eq)

# ---- code and identifiers ------------------------------------------------------------
code = [
    ("What type does the function return?", "`Option<u32>`", "`Option<u32>`", True),
    ("What type does the function return?", "Option<u32>", "Option<u3", False),
    ("What type does the function return?", "`Vec<String>`", "`Vec<&str>`", False),
    ("What type does the function return?", "`HashMap<String, u64>`", "`HashMap<String, u32>`", False),
    ("Which operator makes the loop inclusive?", "Use `<=`.", "Use `<`.", False),
    ("Which operator makes the loop inclusive?", "`<=`", "`<=`", True),
    ("What is the condition?", "x <= 10", "x < 10", False),
    ("What is the condition?", "x != 0", "x == 0", False),
    ("Write the add function.", "fn add(a: i32, b: i32) -> i32 { a + b }", "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}", True),
    ("Write the add function.", "fn add(a: i32, b: i32) -> i32 { a + b }", "fn add(a: i32, b: i32) -> i32 { a - b }", False),
    ("Which command squashes the last three commits?", "`git rebase -i HEAD~3`", "`git rebase -i HEAD~2`", False),
    ("Which command squashes the last three commits?", "`git rebase -i HEAD~3`", "`git rebase -i HEAD~3`", True),
    ("Which query fetches user 1?", "SELECT * FROM users WHERE id = 1;", "SELECT * FROM users WHERE id = 2;", False),
    ("Which query fetches user 1?", "SELECT * FROM users WHERE id = 1;", "SELECT *  FROM users\nWHERE id = 1;", True),
    ("How do you get the length?", "`len(items)`", "`len(item)`", False),
    ("How do you sort the list?", "`a.sort()`", "`sorted(a)`", False),
    ("Which method returns the first element?", "`v.first()`", "`v.last()`", False),
    ("Which method returns the first element?", "`v.first()`", "`v.first()`", True),
    ("What is the Python 3 version check?", "sys.version_info >= (3, 8)", "sys.version_info > (3, 8)", False),
    ("Which header sets the key?", "`x-api-key`", "`api-key`", False),
]
for prompt, a, b, eq in code:
    add("code", prompt, a, b, eq)
    add("code", prompt, f"The answer is {a}", f"The answer is {b}", eq)

# ---- yes/no with numbers: polarity must agree ---------------------------------------
polar = [
    ("Did all checks pass?", "No, 2 checks failed.", "Yes, all but 2 passed.", False),
    ("Did all checks pass?", "Yes, all 12 checks passed.", "No, all 12 checks passed.", False),
    ("Did all checks pass?", "Yes.", "Yes, all of them passed.", True),
    ("Did all checks pass?", "No.", "No, they did not.", True),
    ("Is the service up?", "Yes, it is.", "No, it isn't.", False),
    ("Is the service up?", "Yes, it is.", "Yes — definitely.", True),
    ("Is the service up?", "No, it is not.", "No.", True),
    ("Is the service up?", "No, it is not.", "Yes, it is.", False),
    ("Is 91 prime?", "No, 91 = 7 × 13.", "Yes, 91 is prime.", False),
    ("Is 97 prime?", "Yes", "True.", True),
    ("Is 97 prime?", "Yes", "False.", False),
    ("Was the payment received?", "Yes, $120 arrived on 2024-05-02.", "No, $120 is still pending.", False),
]
for prompt, a, b, eq in polar:
    add("yes_no", prompt, a, b, eq)
    add("yes_no", prompt, f"**Answer:** {a}", b, eq)

# ---- summaries: the same numbers, one edit in the words -----------------------------
# (sentence, paraphrase or None, [(edited sentence, kind of edit)]): every edit changes
# the meaning; the paraphrase keeps it.
summaries = [
    ("The board approved the $2M budget 5-4.", "By a 5-4 vote, the board approved the $2M budget.",
     ["The board rejected the $2M budget 5-4.", "The board approved the $2M budget 5-4 after cutting staff.",
      "The board did not approve the $2M budget 5-4.", "The board approved the $3M budget 5-4."]),
    ("Revenue rose 12% to $4.1B in Q3.", "In Q3, revenue climbed 12% to $4.1B.",
     ["Revenue fell 12% to $4.1B in Q3.", "Revenue rose 12% to $4.1B in Q4.",
      "Revenue rose 12% to $4.1B in Q3, missing forecasts.", "Revenue rose 21% to $4.1B in Q3."]),
    ("Spain beat Italy 2-1 in the final.", "Spain won the final against Italy, 2-1.",
     ["Italy beat Spain 2-1 in the final.", "Spain lost to Italy 2-1 in the final.",
      "Spain beat Italy 2-1 in the semi-final.", "Spain beat Italy 3-1 in the final."]),
    ("The drug reduced symptoms in 60% of patients.", "Symptoms fell in 60% of patients on the drug.",
     ["The drug did not reduce symptoms in 60% of patients.", "The drug increased symptoms in 60% of patients.",
      "The drug reduced symptoms in 60% of patients but caused nausea.", "The drug reduced symptoms in 6% of patients."]),
    ("The plant will close in 2026, cutting 300 jobs.", "Closing in 2026, the plant will cut 300 jobs.",
     ["The plant will open in 2026, adding 300 jobs.", "The plant will close in 2027, cutting 300 jobs.",
      "The plant will not close in 2026, saving 300 jobs.", "The plant will close in 2026, cutting 3000 jobs."]),
    ("Alice sent Bob 3 files on Monday.", "On Monday, Alice sent 3 files to Bob.",
     ["Bob sent Alice 3 files on Monday.", "Alice sent Bob 3 files on Friday.",
      "Alice never sent Bob 3 files on Monday.", "Alice sent Bob 4 files on Monday."]),
    ("The council raised parking fees by 10% in 2023.", "In 2023 the council increased parking fees 10%.",
     ["The council cut parking fees by 10% in 2023.", "The council raised parking fees by 10% in 2022.",
      "The council raised parking fees by 10% in 2023 and banned cars downtown.", "The council raised parking fees by 15% in 2023."]),
    ("Temperatures peaked at 41 °C on Tuesday.", "On Tuesday temperatures peaked at 41 °C.",
     ["Temperatures dropped to 41 °C on Tuesday.", "Temperatures peaked at 41 °F on Tuesday.",
      "Temperatures peaked at 41 °C on Thursday.", "Temperatures peaked at 14 °C on Tuesday."]),
    ("The firm hired 40 engineers and 12 designers.", "40 engineers and 12 designers were hired by the firm.",
     ["The firm fired 40 engineers and 12 designers.", "The firm hired 12 engineers and 40 designers.",
      "The firm hired 40 engineers and 12 designers, then froze hiring.", "The firm hired 40 engineers and 21 designers."]),
    ("Shares gained 3.2% after the merger was announced.", "After the merger announcement, shares rose 3.2%.",
     ["Shares lost 3.2% after the merger was announced.", "Shares gained 3.2% after the merger was cancelled.",
      "Shares gained 3.2% before the merger was announced.", "Shares gained 2.3% after the merger was announced."]),
    ("The bridge reopened after 18 months of repairs.", "After 18 months of repairs, the bridge reopened.",
     ["The bridge closed after 18 months of repairs.", "The bridge reopened after 18 weeks of repairs.",
      "The bridge has not reopened after 18 months of repairs.", "The bridge reopened after 8 months of repairs."]),
    ("Unemployment fell to 4.1% in May.", "In May, unemployment dropped to 4.1%.",
     ["Unemployment rose to 4.1% in May.", "Unemployment fell to 4.1% in March.",
      "Unemployment fell by 4.1 percentage points in May.", "Unemployment fell to 4.7% in May."]),
]
for i, (s, para, edits) in enumerate(summaries):
    prompt = "Summarise the report in one sentence."
    add("summaries", prompt, s, s, True)
    add("summaries", prompt, s, para, True)
    for e in edits:
        add("summaries", prompt, s, e, False)
        add("summaries", prompt, para, e, False)

# ---- restating the question ---------------------------------------------------------
restate = [
    ("How many checks failed?", "2", "2 checks failed.", True),
    ("How many checks failed?", "2", "2 checks passed.", False),
    ("When did the store open?", "1998", "The store opened in 1998.", True),
    ("When did the store open?", "1998", "The store closed in 1998.", False),
    ("How many moons does Jupiter have?", "95", "Jupiter has 95 moons.", True),
    ("How many moons does Jupiter have?", "95", "Jupiter has 59 moons.", False),
    ("What is the capital of Australia?", "Canberra", "The capital of Australia is Canberra.", True),
    ("What is the capital of Australia?", "Canberra", "The capital of Australia is Sydney.", False),
    ("How many users signed up?", "1,204", "1204 users signed up.", True),
    ("How many users signed up?", "1,204", "1204 users did not sign up.", False),
]
for prompt, a, b, eq in restate:
    add("restatement", prompt, a, b, eq)
    add("restatement", prompt, b, a, eq)

# ---- more lists ------------------------------------------------------------------------
more_lists = [
    ("List the noble gases in the first three periods.", "helium, neon and argon", "- argon\n- helium\n- neon", True),
    ("List the noble gases in the first three periods.", "helium, neon and argon", "helium, neon and krypton", False),
    ("Name the RGB primaries.", "red, green, blue", "Blue, green and red.", True),
    ("Name the RGB primaries.", "red, green, blue", "red, yellow, blue", False),
    ("Sort these from smallest to largest: 9, 2, 5.", "1. 2\n2. 5\n3. 9", "- 2\n- 5\n- 9", True),
    ("Sort these from smallest to largest: 9, 2, 5.", "1. 2\n2. 5\n3. 9", "1. 2\n2. 9\n3. 5", False),
    ("List the steps to restart the service.", "1. stop it\n2. clear the cache\n3. start it", "1. stop it\n2. start it\n3. clear the cache", False),
    ("List the steps to restart the service.", "1. stop it\n2. clear the cache\n3. start it", "- stop it\n- clear the cache\n- start it", True),
    ("Which HTTP methods are idempotent?", "GET, PUT, DELETE", "PUT, DELETE, GET", True),
    ("Which HTTP methods are idempotent?", "GET, PUT, DELETE", "GET, POST, DELETE", False),
]
for prompt, a, b, eq in more_lists:
    add("lists", prompt, a, b, eq)
    add("lists", prompt, f"Here they are:\n{a}", b, eq)

# ---- JSON whose arrays may be sets ---------------------------------------------------
sets = [
    ('{"user": "ana", "roles": ["admin", "dev"]}', '{"roles": ["dev", "admin"], "user": "ana"}', True),
    ('{"user": "ana", "roles": ["admin", "dev"]}', '{"roles": ["dev"], "user": "ana"}', False),
    ('{"tags": ["red", "blue"], "id": 7}', '{"id": 7, "tags": ["blue", "red"]}', True),
    ('{"tags": ["red", "blue"], "id": 7}', '{"id": 8, "tags": ["red", "blue"]}', False),
    ('{"steps": ["build", "test", "ship"]}', '{"steps": ["ship", "test", "build"]}', False),
]
for a, b, eq in sets:
    add("json", "Return the record as JSON.", a, b, eq)
    add("json", "Return the record as JSON.", f"```json\n{a}\n```", b, eq)

with open("pairs.jsonl", "w", encoding="utf-8") as f:
    for p in pairs:
        f.write(json.dumps(p, ensure_ascii=False) + "\n")
print(len(pairs), "pairs")
