"""The pretraining recipes, shipped inside the package as `electra_keras.recipe_files`.

Read them with `electra_keras.recipes.load_recipe(name)` or `electra-keras recipes`."""
