print("tailor")
