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

with open("pairs.jsonl", "w", encoding="utf-8") as f:
    for p in pairs:
        f.write(json.dumps(p, ensure_ascii=False) + "\n")
print(len(pairs), "pairs")
