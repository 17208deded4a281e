def test_me(as_user, world):
    response = as_user(world.graduate_email).get("/api/v1/me")
    assert response.status_code == 200, response.json
    assert response.json["graduate_id"] == str(world.graduate.id)
