def test_status(client):
    r = client.get("/status")
    assert r.status_code == 200
    assert r.get_json()["status"] == "ok"
